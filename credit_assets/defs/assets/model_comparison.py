"""model_comparison: the month's champion and challenger scored in shadow on the same applications and cut-offs."""

import dagster as dg

from credit_assets.core.modeling import comparison
from credit_assets.core.scoring import Cutoffs
from credit_assets.defs.assets.features import features
from credit_assets.defs.assets.forecasts import CUTOFFS_FILE, forecasts
from credit_assets.defs.assets.model import model
from credit_assets.defs.metadata import figures, image, table
from credit_assets.defs.partitions import REFRESH_WHEN_UPSTREAM_CHANGES, monthly_asset
from credit_assets.defs.storage import StorageResource

ASSET_KEY = dg.AssetKey("model_comparison")


@monthly_asset(
    automation_condition=REFRESH_WHEN_UPSTREAM_CHANGES,
    deps=[model, features, forecasts],
    group_name="governance",
    kinds={"lightgbm", "scikit-learn"},
    description="Champion against challenger on the month in shadow (validation and forecast AUC, calibration, "
    "approval and bad rates at the cut-offs) and the same table over every month so far.",
)
def model_comparison(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    """Score the month with every candidate of its promotion decision and store the comparison."""
    month = context.partition_key
    decision = storage.read_decision(context, model, month)
    candidates = [storage.load_version(context, model, item["version"]) for item in decision.candidates]
    cutoffs = Cutoffs(**storage.read_report(context, forecasts, month, CUTOFFS_FILE))
    rows = comparison.compare_month(
        month, decision.champion, candidates, storage.read_table(context, features, month), cutoffs
    )
    storage.write_report(context, comparison.REPORT_FILE, rows)
    history = comparison.history_table(storage.report_history(context, ASSET_KEY, comparison.REPORT_FILE, month))
    chart = comparison.auc_png(history)
    storage.write_report_files(context, {"auc.png": chart})
    return dg.MaterializeResult(
        metadata=figures(
            {
                "champion": decision.champion,
                "promotion_rule": decision.rule,
                "month": table(history[history["month"] == month]),
                "over_months": table(history),
                "auc_over_months": image(chart, "AUC per family"),
            }
        )
    )
