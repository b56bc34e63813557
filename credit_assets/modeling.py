"""LightGBM training, tuning, scoring and persistence shared by the model, forecast and comparison stages."""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from credit_assets import schema
from credit_assets.partitions import monthly_partitions
from credit_assets.resources.storage import StorageResource, atomic_write

MODEL_FILE = "model.txt"
CARD_FILE = "card.json"
STUDY_PREFIX = "lightgbm-"
HISTORY_VALIDATION_SHARE = 0.1  # when only the history is labelled, its latest rows are the validation slice

BASE_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "metric": "auc",
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_child_samples": 50,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l1": 0.0,
    "lambda_l2": 1.0,
    "deterministic": True,
    "force_row_wise": True,
    "feature_pre_filter": False,
    "verbose": -1,
}


@dataclass
class TrainingData:
    """Labelled rows before the scored month, split out of time into training and validation."""

    train: pd.DataFrame
    validation: pd.DataFrame
    train_months: list[str]
    validation_months: list[str]

    def window(self) -> dict[str, Any]:
        return {
            "train_months": self.train_months,
            "validation_months": self.validation_months,
            "train_rows": len(self.train),
            "validation_rows": len(self.validation),
            "train_sha256": frame_hash(self.train),
            "validation_sha256": frame_hash(self.validation),
        }


def frame_hash(frame: pd.DataFrame) -> str:
    """A content hash of a frame (values, index and column names)."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    digest.update(json.dumps(list(map(str, frame.columns))).encode())
    return digest.hexdigest()


def labelled_months_before(storage: StorageResource, month: str) -> list[str]:
    """Stored feature months before `month` that carry labels, oldest first."""
    months = [key for key in storage.stored_partitions("features") if key < month]
    return [key for key in months if storage.read_table("features", key, [schema.TARGET_COLUMN])[schema.TARGET_COLUMN].notna().all()]


def require_contiguous(storage: StorageResource, month: str) -> None:
    """Refuse a training window with a hole: every month from the first stored one to `month` - 1 needs features."""
    stored = [key for key in storage.stored_partitions("features") if key < month]
    if not stored:
        return
    expected = [key for key in monthly_partitions.get_partition_keys() if stored[0] <= key < month]
    holes = sorted(set(expected) - set(stored))
    if holes:
        raise ValueError(f"Features for {holes} are missing: materialise those months before {month}.")


def training_data(storage: StorageResource, month: str) -> TrainingData:
    """Every labelled month before `month`; the latest one is the out-of-time validation slice."""
    require_contiguous(storage, month)
    months = labelled_months_before(storage, month)
    if not months:
        raise ValueError(
            f"No labelled month before {month}: its model needs the history and labelled months before it "
            "(materialise features for earlier months first)."
        )
    return split_out_of_time({key: storage.read_table("features", key) for key in months})


def split_out_of_time(frames: dict[str, pd.DataFrame]) -> TrainingData:
    """Labelled feature months: the latest one validates; with only one month, its newest rows do."""
    months = sorted(frames)
    if len(months) == 1:
        only = frames[months[0]].sort_values(schema.ID_COLUMN)
        cut = int(len(only) * (1 - HISTORY_VALIDATION_SHARE))
        return TrainingData(only.iloc[:cut], only.iloc[cut:], months, months)
    train = pd.concat([frames[key] for key in months[:-1]], ignore_index=True)
    return TrainingData(train, frames[months[-1]], months[:-1], months[-1:])


def lgb_dataset(frame: pd.DataFrame, features: list[str], reference: lgb.Dataset | None = None) -> lgb.Dataset:
    return lgb.Dataset(
        frame[features], label=frame[schema.TARGET_COLUMN], reference=reference, free_raw_data=False
    )


def fit(
    data: TrainingData, features: list[str], params: dict[str, Any], seed: int, threads: int, rounds: int, patience: int
) -> lgb.Booster:
    """Train with early stopping on the validation slice."""
    train_set = lgb_dataset(data.train, features)
    valid_set = lgb_dataset(data.validation, features, reference=train_set)
    return lgb.train(
        {**BASE_PARAMS, **params, "seed": seed, "num_threads": threads},
        train_set,
        num_boost_round=rounds,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(patience, verbose=False)],
    )


def predict(booster: lgb.Booster, frame: pd.DataFrame) -> np.ndarray:
    return booster.predict(frame[booster.feature_name()], num_iteration=booster.best_iteration or None)


def metrics(labels: pd.Series, probabilities: np.ndarray) -> dict[str, float | None]:
    """ROC AUC, PR AUC, Brier score and log loss; AUCs are None when the labels hold one class only."""
    both = labels.nunique() == 2
    return {
        "roc_auc": float(roc_auc_score(labels, probabilities)) if both else None,
        "pr_auc": float(average_precision_score(labels, probabilities)) if both else None,
        "brier": float(brier_score_loss(labels, probabilities)),
        "log_loss": float(log_loss(labels, probabilities, labels=[0, 1])),
    }


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


def tune(
    storage: StorageResource, month: str, data: TrainingData, features: list[str], trials: int, seed: int, threads: int,
    rounds: int, patience: int,
) -> optuna.Study:
    """Run (or resume) the month's persistent Optuna study until it holds `trials` finished trials."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=f"{STUDY_PREFIX}{month}",
        storage=storage.optuna_storage_url,
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        load_if_exists=True,
    )
    done = len([t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE])

    def objective(trial: optuna.Trial) -> float:
        booster = fit(data, features, suggest_params(trial), seed, threads, rounds, patience)
        trial.set_user_attr("best_iteration", booster.best_iteration)
        return float(roc_auc_score(data.validation[schema.TARGET_COLUMN], predict(booster, data.validation)))

    if done < trials:
        study.optimize(objective, n_trials=trials - done)
    return study


def latest_tuned_study(storage: StorageResource, month: str) -> optuna.Study | None:
    """The newest study of a month up to `month` that holds a finished trial."""
    summaries = optuna.get_all_study_summaries(storage=storage.optuna_storage_url)
    names = sorted(
        (s.study_name for s in summaries if s.study_name.startswith(STUDY_PREFIX) and s.best_trial is not None),
        reverse=True,
    )
    eligible = [name for name in names if name.removeprefix(STUDY_PREFIX) <= month]
    return optuna.load_study(study_name=eligible[0], storage=storage.optuna_storage_url) if eligible else None


def save_model(folder: Path, booster: lgb.Booster, card: dict[str, Any]) -> str:
    """Store the booster in LightGBM's text format and its JSON card; returns the model version."""
    text = booster.model_to_string(num_iteration=booster.best_iteration or None)
    version = f"{card['month']}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"
    atomic_write(folder / MODEL_FILE, lambda tmp: tmp.write_text(text))
    atomic_write(folder / CARD_FILE, lambda tmp: tmp.write_text(json.dumps({**card, "version": version}, indent=2, sort_keys=True)))
    return version


def load_model(folder: Path) -> tuple[lgb.Booster, dict[str, Any]]:
    """Load a stored model and its card; a clear error when either is missing or unreadable."""
    model_path, card_path = folder / MODEL_FILE, folder / CARD_FILE
    if not model_path.is_file() or not card_path.is_file():
        raise FileNotFoundError(f"No stored model in {folder}: materialise the model for that month first.")
    try:
        booster = lgb.Booster(model_file=str(model_path))
    except lgb.basic.LightGBMError as error:
        raise ValueError(f"Model file {model_path} cannot be loaded by LightGBM: {error}") from error
    return booster, json.loads(card_path.read_text())
