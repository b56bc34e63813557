"""forecast_performance: how month M's forecasts did once M's labels are known, and the rolling backtest."""

import dagster as dg
import pandas as pd

from credit_assets.core.modeling.calibration import reliability_png
from credit_assets.core.monitoring import performance
from credit_assets.core.monitoring.performance import Performance
from credit_assets.defs.assets.forecasts import forecasts
from credit_assets.defs.assets.model import model
from credit_assets.defs.assets.validated_applications import validated_applications
from credit_assets.defs.metadata import check_result, figures, image, table
from credit_assets.defs.partitions import REFRESH_WHEN_UPSTREAM_CHANGES, monthly_asset, monthly_check
from credit_assets.defs.storage import StorageResource
from credit_assets.keys import LABELLED

ASSET_KEY = dg.AssetKey("forecast_performance")
RESULT_FILE = "performance.json"


@monthly_asset(
    automation_condition=REFRESH_WHEN_UPSTREAM_CHANGES,
    deps=[forecasts, validated_applications, model],
    group_name="monitoring",
    kinds={"pandas"},
    description="ROC AUC, Brier score and calibration of the month's forecasts once labelled; rolling backtest.",
)
def forecast_performance(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    """Measure the month's forecasts against its labels (or record that labels are still awaited)."""
    month = context.partition_key
    result = performance.measure(
        month,
        storage.read_table(context, validated_applications, month),
        storage.read_table(context, forecasts, month),
        storage.read_model(context, model, month).card,
    )
    storage.write_report(context, RESULT_FILE, result.to_dict())
    if not result.labelled:
        return dg.MaterializeResult(
            metadata={LABELLED: False, "status": "awaiting labels: land the month again with TARGET"}
        )
    history = performance.backtest(
        [Performance.from_dict(stored) for stored in storage.report_history(context, ASSET_KEY, RESULT_FILE, month)]
    )
    calibration = pd.DataFrame(result.calibration)
    calibration_png = reliability_png(f"Calibration of the {month} forecasts", {"forecasts": calibration})
    backtest_png = performance.backtest_png(history)
    storage.write_report_files(context, {"calibration.png": calibration_png, "backtest.png": backtest_png})
    return dg.MaterializeResult(
        metadata=figures(
            {
                LABELLED: True,
                **{
                    key: getattr(result, key)
                    for key in ("roc_auc", "brier", "validation_roc_auc", "positive_rate", "mean_predicted")
                },
                "in_the_large": result.in_the_large,
                "approved_in_the_large": result.approved_in_the_large,
                "calibration": table(calibration),
                "calibration_plot": image(calibration_png, "calibration"),
                "backtest": table(history),
                "backtest_plot": image(backtest_png, "backtest"),
            }
        )
    )


@monthly_check(
    asset=forecast_performance,
    description=f"Forecast AUC is not more than {performance.AUC_WARNING_GAP} below the model's validation AUC.",
)
def auc_holds_up(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    stored = storage.read_report(context, forecast_performance, context.partition_key, RESULT_FILE)
    return check_result(performance.auc_holds_up(Performance.from_dict(stored)))


@monthly_check(
    asset=forecast_performance,
    description="Once labelled, no score band's default rate is clearly off its probability (binomial test per band, "
    f"{performance.CALIBRATION_SIGNIFICANCE} Bonferroni-corrected) and the month's defaults, of all applicants and of "
    "the approved ones, match the sum of their probabilities (calibration in the large, normal approximation, "
    f"{performance.IN_THE_LARGE_SIGNIFICANCE} shared by the two tests).",
)
def calibrated(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    stored = storage.read_report(context, forecast_performance, context.partition_key, RESULT_FILE)
    return check_result(performance.calibrated(Performance.from_dict(stored)))
