"""drift: how far month M has moved from the data its own model was trained on (PSI and KS; prediction PSI)."""

import dagster as dg
import pandas as pd

from credit_assets.core.monitoring import drift as core_drift
from credit_assets.core.monitoring.drift import PROBABILITY, Drift, DriftSettings
from credit_assets.defs.assets.features import features
from credit_assets.defs.assets.forecasts import forecasts
from credit_assets.defs.assets.model import model
from credit_assets.defs.config import config_class, to_settings
from credit_assets.defs.metadata import check_result, figures, image, table
from credit_assets.defs.partitions import monthly_asset, monthly_check
from credit_assets.defs.storage import StorageResource

RESULT_FILE = "drift.json"
DriftConfig = config_class(DriftSettings)


@monthly_asset(
    deps=[features, model, forecasts],
    group_name="monitoring",
    kinds={"pandas", "scipy"},
    description="PSI and KS of every feature and PSI of the predictions against the model's own training data.",
)
def drift(context: dg.AssetExecutionContext, config: DriftConfig, storage: StorageResource) -> dg.MaterializeResult:
    """Measure the month's drift against its model's window and store it as JSON for the checks."""
    month = context.partition_key
    result = core_drift.measure(
        month,
        storage.read_table(context, features, month),
        storage.read_table(context, forecasts, month, [PROBABILITY])[PROBABILITY],
        storage.read_model(context, model, month),
        storage.table_loader(context, features),
        to_settings(config, DriftSettings),
    )
    path = storage.write_report(context, RESULT_FILE, result.to_dict())
    chart = core_drift.psi_png(result)
    storage.write_report_files(context, {"psi.png": chart})
    return dg.MaterializeResult(
        metadata=figures(
            {
                "model_version": result.model_version,
                "reference_months": ", ".join(result.reference_months),
                "reference_rows": result.reference_rows,
                "reference_sample_rows": result.reference_sample_rows,
                "validation_slice_matches_card": result.validation_slice_matches_card,
                "probability_psi": result.probability_psi,
                "label_rate": result.label_rate,
                "reference_label_rate": result.reference_label_rate,
                "top_features": ", ".join(result.top_features),
                "features": table(pd.DataFrame(result.features, dtype=object)),
                "psi_chart": image(chart, "PSI"),
                "result_file": dg.MetadataValue.path(str(path)),
            }
        )
    )


def _stored(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> Drift:
    return Drift.from_dict(storage.read_report(context, drift, context.partition_key, RESULT_FILE))


@monthly_check(
    asset=drift,
    description="No top feature of the model (by gain) has a PSI above the warning limit (ERROR above the error one).",
)
def important_features_stable(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    return check_result(core_drift.important_features_stable(_stored(context, storage)))


@monthly_check(
    asset=drift,
    description="The PSI of the predicted default probability against the model's validation slice is within limits.",
)
def prediction_distribution_stable(
    context: dg.AssetCheckExecutionContext, storage: StorageResource
) -> dg.AssetCheckResult:
    return check_result(core_drift.prediction_distribution_stable(_stored(context, storage)))
