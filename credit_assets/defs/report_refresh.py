"""report_refresh: the sensor that evaluates the reports' automation conditions (labels landed, months re-scored)."""

import dagster as dg

from credit_assets.defs.partitions import AFTER_EVERY_MONTH

# A refresh queues behind every queued month: without a priority it started ahead of months landed together
# (their priorities fall with the month), each time costing the waiting months a run process.
report_refresh = dg.AutomationConditionSensorDefinition(
    "report_refresh",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    run_tags=AFTER_EVERY_MONTH,
    description="Refreshes a month's performance, economics, shadow comparison and documentation pack when the "
    "months they read change: a month's labels landing (the landing sensor then only ingests it) or a backfill.",
)
