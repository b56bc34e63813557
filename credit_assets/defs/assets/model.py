"""model: the LightGBM that scores month M, trained only on labelled months before M.

The latest labelled month is the out-of-time validation slice (early stopping, Optuna's score, the gate).
Tuning runs in a persistent Optuna study per tuning month (SQLite under the storage root, resumable); other
months reuse the newest study's best parameters, so a normal month trains once.
"""

from collections.abc import Iterator

import dagster as dg

from credit_assets.core.modeling.card import MODEL_FILE
from credit_assets.core.modeling.charts import importance_png, roc_png
from credit_assets.core.modeling.month_model import (
    DECLARED_DIRECTIONS,
    GATE,
    NO_PROTECTED_INPUTS,
    promoted,
    refusal,
    train_month_model,
)
from credit_assets.core.modeling.settings import ModelSettings
from credit_assets.core.months import previous_month
from credit_assets.defs.assets.features import features, training_window
from credit_assets.defs.config import config_class, to_settings
from credit_assets.defs.metadata import check_result, image
from credit_assets.defs.partitions import PREVIOUS_MONTH, monthly_asset, monthly_check_spec
from credit_assets.defs.storage import StorageResource

ASSET_KEY = dg.AssetKey("model")
MODEL_CHECKS = {
    GATE: "Validation AUC reaches the floor and is not clearly below the previous month's model.",
    NO_PROTECTED_INPUTS: "No model feature is a protected attribute (sex, marital status, age) or derived from one.",
    DECLARED_DIRECTIONS: "On sweeps over each constrained feature, risk never moves against the contract's direction.",
}
ModelConfig = config_class(ModelSettings)


@monthly_asset(
    # The model of M-1 is upstream too: the gate compares with it and tuning reuses earlier studies.
    deps=[
        dg.AssetDep(features, partition_mapping=PREVIOUS_MONTH),
        dg.AssetDep(ASSET_KEY, partition_mapping=PREVIOUS_MONTH),
    ],
    group_name="model",
    kinds={"lightgbm", "optuna"},
    check_specs=[
        monthly_check_spec(name, asset=ASSET_KEY, blocking=True, description=description)
        for name, description in MODEL_CHECKS.items()
    ],
    description="LightGBM for month M, trained on the labelled months before M; text model file plus JSON card.",
)
def model(context: dg.AssetExecutionContext, config: ModelConfig, storage: StorageResource) -> Iterator:
    """Train (tuning when due), gate and store the model that scores this month."""
    month = context.partition_key
    data = training_window(context, storage, month)
    previous = storage.find_model(context, ASSET_KEY, previous_month(month))
    trained = train_month_model(
        month, data, to_settings(config, ModelSettings), storage.store.optuna_storage_url, previous
    )
    auc = trained.card.validation_metrics["roc_auc"]
    results = [check_result(verdict, name) for name, verdict in trained.verdicts.items()]
    if not promoted(trained):
        yield from results
        raise dg.Failure(
            description=f"Model for {month} not promoted: {refusal(trained)}", metadata={"validation_auc": auc}
        )
    card = storage.write_model(context, trained.booster, trained.card)
    roc = roc_png(month, trained.validation_labels, trained.validation_probabilities, auc)
    importance = importance_png(month, trained.importance)
    storage.write_report_files(context, {"roc.png": roc, "importance.png": importance})
    yield dg.MaterializeResult(
        check_results=results,
        metadata={
            "model_version": card.version,
            **{f"validation_{name}": value for name, value in card.validation_metrics.items()},
            "train_months": ", ".join(card.window["train_months"]),
            "validation_months": ", ".join(card.window["validation_months"]),
            "train_rows": card.window["train_rows"],
            "validation_rows": card.window["validation_rows"],
            "best_iteration": card.best_iteration,
            "feature_count": len(card.features),
            "params": dg.MetadataValue.json(card.params),
            "params_provenance": dg.MetadataValue.json(card.params_provenance),
            "roc_curve": image(roc, "ROC"),
            "feature_importance": image(importance, "importance"),
            "model_file": dg.MetadataValue.path(str(storage.report_path(ASSET_KEY, month, MODEL_FILE))),
        },
    )
