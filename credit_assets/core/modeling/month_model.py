"""One month's model end to end: parameters, fit, validation metrics and the gate against the previous model."""

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd

from credit_assets.core.contract import schema
from credit_assets.core.features import feature_names
from credit_assets.core.modeling import compliance
from credit_assets.core.modeling.card import ModelCard
from credit_assets.core.modeling.gate import PreviousModel, gate
from credit_assets.core.modeling.settings import ModelSettings
from credit_assets.core.modeling.training import BASE_PARAMS, TrainingData, fit_with_selection, metrics, predict
from credit_assets.core.modeling.tuning import choose_params
from credit_assets.core.verdict import Verdict

IMPORTANCE_ROWS_KEPT = 30
GATE, NO_PROTECTED_INPUTS, DECLARED_DIRECTIONS = "champion_gate", "no_protected_inputs", "declared_directions_hold"


@dataclass(frozen=True)
class MonthModel:
    """A trained month's model with its card (not yet versioned), its blocking verdicts and validation predictions."""

    booster: lgb.Booster
    card: ModelCard
    verdicts: dict[str, Verdict]  # champion gate and fair-lending checks: the model ships only if all pass
    previous: PreviousModel | None
    validation_labels: pd.Series
    validation_probabilities: np.ndarray
    importance: pd.DataFrame


def score_previous(previous: tuple[lgb.Booster, ModelCard] | None, validation: pd.DataFrame) -> PreviousModel | None:
    """The previous month's model's AUC on this month's validation slice."""
    if previous is None:
        return None
    booster, card = previous
    return PreviousModel(
        card.version, metrics(validation[schema.TARGET_COLUMN], predict(booster, validation))["roc_auc"]
    )


def train_month_model(
    month: str,
    data: TrainingData,
    settings: ModelSettings,
    study_url: str,
    previous: tuple[lgb.Booster, ModelCard] | None,
) -> MonthModel:
    """Tune when due, fit, score the validation slice and judge the result against the gate."""
    params, provenance = choose_params(settings, study_url, month, data, feature_names())
    booster, importance = fit_with_selection(data, params, settings)
    labels = data.validation[schema.TARGET_COLUMN]
    probabilities = predict(booster, data.validation)
    scores = metrics(labels, probabilities)
    earlier = score_previous(previous, data.validation)
    card = ModelCard(
        month=month,
        window=data.window(),
        params={**BASE_PARAMS, **params},
        params_provenance=provenance,
        seed=settings.seed,
        num_threads=settings.num_threads,
        best_iteration=booster.best_iteration,
        features=booster.feature_name(),
        validation_metrics=scores,
        importance=importance.head(IMPORTANCE_ROWS_KEPT).to_dict(orient="records"),
    )
    verdicts = {
        GATE: gate(settings, scores["roc_auc"], earlier),
        NO_PROTECTED_INPUTS: compliance.protected_inputs(booster.feature_name()),
        DECLARED_DIRECTIONS: compliance.declared_directions_hold(booster, data.validation),
    }
    return MonthModel(booster, card, verdicts, earlier, labels, probabilities, importance)


def promoted(model: MonthModel) -> bool:
    return all(verdict.passed for verdict in model.verdicts.values())


def refusal(model: MonthModel) -> str:
    """Why the model is not promoted: every failed verdict."""
    return "; ".join(f"{name}: {verdict.description}" for name, verdict in model.verdicts.items() if not verdict.passed)
