"""report_refresh: the sensor that evaluates the reports' automation conditions (labels landed, months re-scored)."""

import dagster as dg

report_refresh = dg.AutomationConditionSensorDefinition(
    "report_refresh",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Refreshes a month's performance, economics, shadow comparison and documentation pack when the "
    "months they read change: a month's labels landing (the landing sensor then only ingests it) or a backfill.",
)
