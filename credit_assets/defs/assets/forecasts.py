"""forecasts: every application of month M with its champion's calibrated default probability, decision, reasons
and model version.

The export for people outside Dagster holds SK_ID_CURR and model outputs only.
"""

from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import dagster as dg

from credit_assets.core.contract import schema
from credit_assets.core.scoring import (
    FORECAST_CHECKS,
    Cutoffs,
    ForecastAudit,
    applications_per_band,
    audit,
    decision_counts,
    decision_shares,
    score,
    top_reasons,
)
from credit_assets.core.store import FORECASTS_EXPORT
from credit_assets.defs.assets.features import features
from credit_assets.defs.assets.model import model
from credit_assets.defs.assets.validated_applications import validated_applications
from credit_assets.defs.config import config_class, to_settings
from credit_assets.defs.metadata import figures, table
from credit_assets.defs.partitions import TRANSIENT_RETRIES, monthly_asset, monthly_check_spec
from credit_assets.defs.storage import StorageResource
from credit_assets.keys import DECISION_COUNTS, DECISION_SHARES, MODEL_VERSION

ForecastConfig = config_class(Cutoffs, "ForecastConfig")
CUTOFFS_FILE = "cutoffs.json"


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
    export = storage.store.write_export(FORECASTS_EXPORT, month, frame)
    return dg.MaterializeResult(
        metadata=figures(
            {
                "dagster/row_count": len(frame),
                MODEL_VERSION: champion.version,
                "model_family": champion.card.family,
                **{name: value for name, value in asdict(cutoffs).items()},
                "mean_probability": float(frame["default_probability"].mean()),
                DECISION_SHARES: dg.MetadataValue.json(decision_shares(frame)),
                DECISION_COUNTS: dg.MetadataValue.json(decision_counts(frame)),
                "applications_per_probability_band": dg.MetadataValue.json(applications_per_band(frame)),
                "top_reasons": dg.MetadataValue.json(top_reasons(frame)),
                "export": dg.MetadataValue.path(export),
                "preview": table(frame.head(10)),
            }
        )
    )


def check_metadata(found: ForecastAudit) -> dict[str, dict[str, Any]]:
    """What each forecast check shows beside its verdict."""
    return {
        "one_row_per_application": {
            key: getattr(found, key) for key in ("forecasts", "applications", "missing", "extra", "duplicated")
        },
        "probabilities_in_unit_interval": {"outside": found.probabilities_outside_unit_interval},
        "no_missing_values": {"missing_by_column": dg.MetadataValue.json(found.empty_fields)},
        "adverse_decisions_have_reasons": {
            "adverse_without_reason": found.adverse_without_reason,
            "approved_with_reason": found.approved_with_reason,
            "reasons_outside_catalogue": dg.MetadataValue.json(found.reasons_outside_catalogue),
            "notices_naming_a_family_twice": found.repeated_families,
        },
    }


# One step audits the stored table once for all four checks (four steps read it four times for the same audit).
@dg.multi_asset_check(
    name="forecasts_audit",
    specs=[
        monthly_check_spec(
            name, asset=forecasts, additional_deps=[validated_applications], blocking=True, description=description
        )
        for name, description in FORECAST_CHECKS.items()
    ],
    retry_policy=TRANSIENT_RETRIES,
)
def forecasts_audit(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> Iterator[dg.AssetCheckResult]:
    """Audit the month's forecasts against its validated applications."""
    month = context.partition_key
    ids = storage.read_table(context, validated_applications, month, [schema.ID_COLUMN])[schema.ID_COLUMN]
    found = audit(storage.read_table(context, forecasts, month), ids)
    metadata = check_metadata(found)
    for name, passed in found.verdicts().items():
        yield dg.AssetCheckResult(
            asset_key=forecasts.key, check_name=name, passed=passed, metadata=figures(metadata[name])
        )
