"""forecasts: every application of month M with its champion's calibrated default probability, decision, reasons
and model version.

The export for people outside Dagster holds SK_ID_CURR and model outputs only.
"""

from dataclasses import asdict
from pathlib import Path

import dagster as dg

from credit_assets.core.contract import schema
from credit_assets.core.scoring import Cutoffs, ForecastAudit, audit, decision_shares, score
from credit_assets.core.store import write_csv
from credit_assets.defs.assets.features import features
from credit_assets.defs.assets.model import model
from credit_assets.defs.assets.validated_applications import validated_applications
from credit_assets.defs.config import config_class, to_settings
from credit_assets.defs.metadata import table
from credit_assets.defs.partitions import monthly_asset, monthly_check
from credit_assets.defs.storage import StorageResource

ForecastConfig = config_class(Cutoffs, "ForecastConfig")
CUTOFFS_FILE = "cutoffs.json"


def export_path(storage: StorageResource, month: str) -> Path:
    return storage.store.forecasts_dir / f"forecasts_{month}.csv"


@monthly_asset(
    deps=[model, features],
    group_name="model",
    kinds={"lightgbm", "parquet", "csv"},
    description="Default probability, decision and up to four reasons per adverse decision of the month; CSV export.",
)
def forecasts(
    context: dg.AssetExecutionContext, config: ForecastConfig, storage: StorageResource
) -> dg.MaterializeResult:
    """Score the month with its model and export the forecasts atomically."""
    month = context.partition_key
    cutoffs = to_settings(config, Cutoffs)
    champion = storage.read_model(context, model, month)
    frame = score(storage.read_table(context, features, month), champion, cutoffs)
    storage.write_table(context, frame)
    storage.write_report(context, CUTOFFS_FILE, asdict(cutoffs))  # what decision economics judges
    export = write_csv(export_path(storage, month), frame)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(frame),
            "model_version": champion.version,
            "model_family": champion.card.family,
            **{name: value for name, value in asdict(cutoffs).items()},
            "mean_probability": float(frame["default_probability"].mean()),
            "decision_shares": dg.MetadataValue.json(decision_shares(frame)),
            "export": dg.MetadataValue.path(str(export)),
            "preview": table(frame.head(10)),
        }
    )


def _audit(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> ForecastAudit:
    month = context.partition_key
    ids = storage.read_table(context, validated_applications, month, [schema.ID_COLUMN])[schema.ID_COLUMN]
    return audit(storage.read_table(context, forecasts, month), ids)


@monthly_check(
    asset=forecasts,
    additional_deps=[validated_applications],
    blocking=True,
    description="Exactly one forecast per validated application of the month.",
)
def one_row_per_application(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    found = _audit(context, storage)
    return dg.AssetCheckResult(
        passed=not (found.missing or found.extra or found.duplicated),
        metadata={key: getattr(found, key) for key in ("forecasts", "applications", "missing", "extra", "duplicated")},
    )


@monthly_check(
    asset=forecasts,
    additional_deps=[validated_applications],
    blocking=True,
    description="Every default probability lies within [0, 1].",
)
def probabilities_in_unit_interval(
    context: dg.AssetCheckExecutionContext, storage: StorageResource
) -> dg.AssetCheckResult:
    outside = _audit(context, storage).probabilities_outside_unit_interval
    return dg.AssetCheckResult(passed=outside == 0, metadata={"outside": outside})


@monthly_check(
    asset=forecasts, additional_deps=[validated_applications], blocking=True, description="No forecast field is empty."
)
def no_missing_values(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    empty = _audit(context, storage).empty_fields
    return dg.AssetCheckResult(passed=not empty, metadata={"missing_by_column": dg.MetadataValue.json(empty)})


@monthly_check(
    asset=forecasts,
    additional_deps=[validated_applications],
    blocking=True,
    description="Every referred or declined application has a reason from the catalogue; none cites a protected "
    "attribute; approved applications carry none.",
)
def adverse_decisions_have_reasons(
    context: dg.AssetCheckExecutionContext, storage: StorageResource
) -> dg.AssetCheckResult:
    found = _audit(context, storage)
    return dg.AssetCheckResult(
        passed=not (found.adverse_without_reason or found.approved_with_reason or found.reasons_outside_catalogue),
        metadata={
            "adverse_without_reason": found.adverse_without_reason,
            "approved_with_reason": found.approved_with_reason,
            "reasons_outside_catalogue": dg.MetadataValue.json(found.reasons_outside_catalogue),
        },
    )
