"""model_review: whether month M's monitoring asks for the champion to be reviewed, recorded for the next month.

Critical drift of an important feature, AUC decay beyond the tolerance that the month's defaults can tell,
calibration in the large failing, or a significant disparity worse than the one documented when the champion was
approved: each is a trigger appended to the promotion log with its evidence. The next month's model reads the log
and develops candidates. Labels land late, so the review is refreshed with the month's performance.
"""

import dagster as dg
import pandas as pd

from credit_assets.core.modeling import change_control
from credit_assets.core.modeling.change_control import ReviewSettings
from credit_assets.core.monitoring.drift import Drift
from credit_assets.core.monitoring.fairness import Fairness
from credit_assets.core.monitoring.performance import Performance
from credit_assets.defs.assets import drift as drift_asset
from credit_assets.defs.assets import fairness as fairness_asset
from credit_assets.defs.assets import forecast_performance as performance_asset
from credit_assets.defs.assets.model import model
from credit_assets.defs.config import config_class, to_settings
from credit_assets.defs.metadata import figures, table
from credit_assets.defs.partitions import REFRESH_WHEN_UPSTREAM_CHANGES, monthly_asset
from credit_assets.defs.storage import StorageResource

ReviewConfig = config_class(ReviewSettings)


@monthly_asset(
    automation_condition=REFRESH_WHEN_UPSTREAM_CHANGES,
    deps=[model, drift_asset.drift, fairness_asset.fairness, performance_asset.forecast_performance],
    group_name="governance",
    kinds={"pandas"},
    description="The month's monitoring triggers (critical drift, AUC decay, calibration in the large, a new "
    "disparity) with their evidence, appended to the promotion log for the next month's model.",
)
def model_review(
    context: dg.AssetExecutionContext, config: ReviewConfig, storage: StorageResource
) -> dg.MaterializeResult:
    """Judge the month's monitoring against the champion's documented figures and record any trigger."""
    month = context.partition_key
    decision = storage.read_decision(context, model, month)
    stored = {
        asset: storage.find_report(context, asset, month, name)
        for asset, name in (
            (drift_asset.drift, drift_asset.RESULT_FILE),
            (fairness_asset.fairness, fairness_asset.RESULT_FILE),
            (performance_asset.forecast_performance, performance_asset.RESULT_FILE),
        )
    }
    entries = storage.promotions(context, model)
    documented = change_control.documented_air(change_control.proposal_of(entries, decision.champion))
    triggers = change_control.monitoring_triggers(
        Drift.from_dict(stored[drift_asset.drift]) if stored[drift_asset.drift] else None,
        Performance.from_dict(found) if (found := stored[performance_asset.forecast_performance]) else None,
        Fairness.from_dict(stored[fairness_asset.fairness]) if stored[fairness_asset.fairness] else None,
        documented,
        to_settings(config, ReviewSettings),
    )
    entry = change_control.trigger_entry(month, triggers, entries)
    recorded = storage.append_decision(entry) if entry else None
    rows = pd.DataFrame([(t.kind, t.description) for t in triggers], columns=["kind", "description"])
    return dg.MaterializeResult(
        metadata=figures(
            {
                "champion": decision.champion,
                "triggers": table(rows),
                "trigger_count": len(triggers),
                "promotion_log_sequence": recorded["sequence"] if recorded else "-",
                "documented_air": dg.MetadataValue.json(documented),
            }
        )
    )
