"""Optuna tuning in a persistent study per tuning month; other months reuse the newest study's best parameters."""

from typing import Any

import optuna
import pandas as pd
from sklearn.metrics import roc_auc_score

from credit_assets.core.contract import schema
from credit_assets.core.modeling.settings import ModelSettings
from credit_assets.core.modeling.training import TrainingData, fit, predict
from credit_assets.core.months import months_between

STUDY_PREFIX = "lightgbm-"


def suggest_params(trial: optuna.Trial) -> dict[str, Any]:
    """The article's search space, scored on out-of-time validation AUC instead of training AUC."""
    return {
        "lambda_l1": trial.suggest_float("lambda_l1", 1e-8, 10.0, log=True),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-8, 10.0, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 2, 256),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.4, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.4, 1.0),
        "bagging_freq": trial.suggest_int("bagging_freq", 1, 7),
        "min_child_samples": trial.suggest_int("min_child_samples", 5, 100),
    }


def tune(study_url: str, month: str, data: TrainingData, features: list[str], settings: ModelSettings) -> optuna.Study:
    """Run (or resume) the month's persistent Optuna study until it holds `optuna_trials` finished trials."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=f"{STUDY_PREFIX}{month}",
        storage=study_url,
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=settings.seed),
        load_if_exists=True,
    )
    done = len([t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE])

    def objective(trial: optuna.Trial) -> float:
        booster = fit(data, features, suggest_params(trial), settings)
        trial.set_user_attr("best_iteration", booster.best_iteration)
        return float(roc_auc_score(data.validation[schema.TARGET_COLUMN], predict(booster, data.validation)))

    if done < settings.optuna_trials:
        study.optimize(objective, n_trials=settings.optuna_trials - done)
    return study


def latest_tuned_study(study_url: str, month: str) -> optuna.Study | None:
    """The newest study of a month up to `month` that holds a finished trial."""
    summaries = optuna.get_all_study_summaries(storage=study_url)
    names = sorted(
        (s.study_name for s in summaries if s.study_name.startswith(STUDY_PREFIX) and s.best_trial is not None),
        reverse=True,
    )
    eligible = [name for name in names if name.removeprefix(STUDY_PREFIX) <= month]
    return optuna.load_study(study_name=eligible[0], storage=study_url) if eligible else None


def choose_params(
    settings: ModelSettings, study_url: str, month: str, data: TrainingData, features: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Tune now or reuse the newest study's best parameters; returns the parameters and where they came from."""
    latest = latest_tuned_study(study_url, month)
    stale = (
        latest is None
        or months_between(latest.study_name.removeprefix(STUDY_PREFIX), month) >= settings.retune_every_months
    )
    if settings.retune == "always" or (settings.retune == "auto" and stale):
        latest = tune(study_url, month, data, features, settings)
    if latest is None:
        return {}, {"source": "defaults (retune='never' and no study yet)"}
    return dict(latest.best_params), {
        "source": f"optuna study {latest.study_name}",
        "tuned_this_month": latest.study_name == f"{STUDY_PREFIX}{month}",
        "trials": len(latest.trials),
        "best_validation_auc": latest.best_value,
    }


def study_trials(study_url: str, study_name: str) -> pd.DataFrame:
    """Every trial of a stored study (number, state, value, parameters); empty when there is no such study."""
    names = {summary.study_name for summary in optuna.get_all_study_summaries(storage=study_url)}
    if study_name not in names:
        return pd.DataFrame()
    frame = optuna.load_study(study_name=study_name, storage=study_url).trials_dataframe()
    return frame.assign(state=frame["state"].astype(str)) if "state" in frame else frame
