"""model: the LightGBM that scores month M, trained only on labelled months before M.

The latest labelled month is the out-of-time validation slice (early stopping, Optuna's score, the gate).
Tuning runs in a persistent Optuna study per tuning month (SQLite under the storage root, resumable); other
months reuse the newest study's best parameters, so a normal month trains once.
"""

from collections.abc import Iterator
from typing import Any, Literal

import dagster as dg
import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from credit_assets import modeling, plots, schema
from credit_assets.assets.features import feature_names, features
from credit_assets.partitions import ONE_MONTH_PER_RUN, monthly_partitions, months_between, previous_month
from credit_assets.resources.storage import StorageResource

ASSET = "model"
GATE = "champion_gate"
# Month M's model trains on every labelled month before M; the lineage graph records the newest of them (M-1)
# and training refuses gaps. A window over all earlier months would make a backfill of a few months of
# features fan out to every later month's model. The model of M-1 is upstream too: the gate compares with it
# and tuning reuses earlier studies, so months train in order.
PREVIOUS_MONTH = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1, allow_nonexistent_upstream_partitions=True)


class ModelConfig(dg.Config):
    """How a month's model is trained, tuned and gated."""

    seed: int = 42
    num_threads: int = 2
    max_boost_rounds: int = 2000
    early_stopping_rounds: int = 100
    retune: Literal["auto", "always", "never"] = "auto"
    retune_every_months: int = 12
    optuna_trials: int = 20
    select_top_features: int = 0  # 0 keeps every feature; N keeps the N with the highest gain importance
    auc_floor: float = 0.60
    max_auc_drop: float = 0.02  # versus the previous month's model on the same validation slice


def choose_params(
    config: ModelConfig, storage: StorageResource, month: str, data: modeling.TrainingData, names: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Tune now or reuse the newest study's best parameters; returns the parameters and where they came from."""
    latest = modeling.latest_tuned_study(storage, month)
    stale = latest is None or months_between(latest.study_name.removeprefix(modeling.STUDY_PREFIX), month) >= config.retune_every_months
    if config.retune == "always" or (config.retune == "auto" and stale):
        latest = modeling.tune(
            storage, month, data, names, config.optuna_trials, config.seed, config.num_threads,
            config.max_boost_rounds, config.early_stopping_rounds,
        )
    if latest is None:
        return {}, {"source": "defaults (retune='never' and no study yet)"}
    return dict(latest.best_params), {
        "source": f"optuna study {latest.study_name}",
        "tuned_this_month": latest.study_name == f"{modeling.STUDY_PREFIX}{month}",
        "trials": len(latest.trials),
        "best_validation_auc": latest.best_value,
    }


def importance_table(booster: lgb.Booster) -> pd.DataFrame:
    gains = booster.feature_importance(importance_type="gain")
    table = pd.DataFrame({"feature": booster.feature_name(), "gain": gains, "splits": booster.feature_importance()})
    return table.sort_values(["gain", "feature"], ascending=[False, True], ignore_index=True)


def fit_with_selection(config: ModelConfig, data: modeling.TrainingData, params: dict[str, Any]) -> tuple[lgb.Booster, pd.DataFrame]:
    """Fit on every feature; when selection is on, refit on the top N by gain (reproducible: fixed seed)."""
    fit_args = (params, config.seed, config.num_threads, config.max_boost_rounds, config.early_stopping_rounds)
    booster = modeling.fit(data, feature_names(), *fit_args)
    importance = importance_table(booster)
    if config.select_top_features > 0:
        booster = modeling.fit(data, importance["feature"].head(config.select_top_features).tolist(), *fit_args)
    return booster, importance


def previous_model_auc(storage: StorageResource, month: str, validation: pd.DataFrame) -> tuple[str, float] | None:
    """The previous month's stored model scored on this month's validation slice, when there is one."""
    folder = storage.artifact_dir(ASSET, previous_month(month))
    if not (folder / modeling.MODEL_FILE).exists():
        return None
    booster, card = modeling.load_model(folder)
    scores = modeling.metrics(validation[schema.TARGET_COLUMN], modeling.predict(booster, validation))
    return card["version"], scores["roc_auc"]


def gate(config: ModelConfig, auc: float | None, previous: tuple[str, float] | None) -> tuple[bool, str]:
    """Pass when validation AUC reaches the floor and is not clearly below the previous month's model."""
    if auc is None:
        return False, "validation slice holds one class only: AUC undefined"
    if auc < config.auc_floor:
        return False, f"validation AUC {auc:.4f} is below the floor {config.auc_floor:.2f}"
    if previous and previous[1] is not None and auc < previous[1] - config.max_auc_drop:
        return False, f"validation AUC {auc:.4f} is more than {config.max_auc_drop} below the previous model {previous[0]} ({previous[1]:.4f})"
    return True, f"validation AUC {auc:.4f} passes (floor {config.auc_floor:.2f}; previous model {previous[1]:.4f})" if previous else f"validation AUC {auc:.4f} passes the floor {config.auc_floor:.2f}"


def roc_png(storage: StorageResource, month: str, labels: pd.Series, probabilities: np.ndarray, auc: float) -> bytes:
    fpr, tpr, _ = roc_curve(labels, probabilities)
    figure, axes = plots.new_figure(5, 5)
    axes.plot(fpr, tpr, label=f"model (AUC {auc:.3f})")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title=f"ROC, validation slice ({month} model)")
    axes.legend(loc="lower right")
    return plots.save_png(figure, storage.artifact_dir(ASSET, month) / "roc.png")


def importance_png(storage: StorageResource, month: str, table: pd.DataFrame, top: int = 20) -> bytes:
    head = table.head(top).iloc[::-1]
    figure, axes = plots.new_figure(7, 6)
    axes.barh(head["feature"], head["gain"])
    axes.set(xlabel="total gain", title=f"Top {top} features by gain ({month} model)")
    return plots.save_png(figure, storage.artifact_dir(ASSET, month) / "importance.png")


@dg.asset(
    partitions_def=monthly_partitions,
    backfill_policy=ONE_MONTH_PER_RUN,
    deps=[dg.AssetDep(features, partition_mapping=PREVIOUS_MONTH), dg.AssetDep(ASSET, partition_mapping=PREVIOUS_MONTH)],
    group_name="model",
    kinds={"lightgbm", "optuna"},
    check_specs=[
        dg.AssetCheckSpec(
            GATE, asset=ASSET, blocking=True,
            description="Validation AUC reaches the floor and is not clearly below the previous month's model.",
        )
    ],
    description="LightGBM for month M, trained on the labelled months before M; text model file plus JSON card.",
)
def model(context: dg.AssetExecutionContext, config: ModelConfig, storage: StorageResource) -> Iterator:
    """Train (tuning when due), gate and store the model that scores this month."""
    month = context.partition_key
    try:
        data = modeling.training_data(storage, month)
    except ValueError as error:
        raise dg.Failure(str(error)) from error
    params, provenance = choose_params(config, storage, month, data, feature_names())
    booster, importance = fit_with_selection(config, data, params)
    labels = data.validation[schema.TARGET_COLUMN]
    probabilities = modeling.predict(booster, data.validation)
    scores = modeling.metrics(labels, probabilities)
    previous = previous_model_auc(storage, month, data.validation)
    passed, verdict = gate(config, scores["roc_auc"], previous)
    yield dg.AssetCheckResult(
        check_name=GATE, passed=passed, severity=dg.AssetCheckSeverity.ERROR, description=verdict,
        metadata={"validation_auc": scores["roc_auc"], "floor": config.auc_floor,
                  "previous_model": previous[0] if previous else "none",
                  "previous_model_auc": previous[1] if previous else None},
    )
    if not passed:
        raise dg.Failure(description=f"Model for {month} not promoted: {verdict}", metadata={"validation_auc": scores["roc_auc"]})
    card = {
        "month": month, "window": data.window(), "params": {**modeling.BASE_PARAMS, **params},
        "params_provenance": provenance, "seed": config.seed, "num_threads": config.num_threads,
        "best_iteration": booster.best_iteration, "features": booster.feature_name(), "validation_metrics": scores,
        "importance": importance.head(30).to_dict(orient="records"),
    }
    version = modeling.save_model(storage.artifact_dir(ASSET, month), booster, card)
    yield dg.MaterializeResult(metadata=_metadata(storage, month, version, card, labels, probabilities, importance))


def _metadata(
    storage: StorageResource, month: str, version: str, card: dict[str, Any], labels: pd.Series,
    probabilities: np.ndarray, importance: pd.DataFrame,
) -> dict[str, Any]:
    scores = card["validation_metrics"]
    window = card["window"]
    return {
        "model_version": version,
        "validation_roc_auc": scores["roc_auc"],
        "validation_pr_auc": scores["pr_auc"],
        "validation_brier": scores["brier"],
        "validation_log_loss": scores["log_loss"],
        "train_months": ", ".join(window["train_months"]),
        "validation_months": ", ".join(window["validation_months"]),
        "train_rows": window["train_rows"],
        "validation_rows": window["validation_rows"],
        "best_iteration": card["best_iteration"],
        "feature_count": len(card["features"]),
        "params": dg.MetadataValue.json(card["params"]),
        "params_provenance": dg.MetadataValue.json(card["params_provenance"]),
        "roc_curve": dg.MetadataValue.md(plots.markdown_image(roc_png(storage, month, labels, probabilities, scores["roc_auc"]), "ROC")),
        "feature_importance": dg.MetadataValue.md(plots.markdown_image(importance_png(storage, month, importance), "importance")),
        "model_file": dg.MetadataValue.path(str(storage.artifact_dir(ASSET, month) / modeling.MODEL_FILE)),
    }
