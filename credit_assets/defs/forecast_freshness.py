"""Freshness: last month's forecasts must exist by a deadline early in the following month."""

import os

import dagster as dg

from credit_assets.defs.assets.forecasts import forecasts
from credit_assets.defs.partitions import AFTER_EVERY_MONTH

# Default: noon UTC on the 5th, three days after the monthly schedule's backstop run.
DEFAULT_DEADLINE_CRON = "0 12 5 * *"


def deadline_cron() -> str:
    """The deadline as a cron expression (CREDIT_ASSETS_FORECAST_DEADLINE_CRON), by default noon on the 5th."""
    return os.environ.get("CREDIT_ASSETS_FORECAST_DEADLINE_CRON", DEFAULT_DEADLINE_CRON)


forecast_freshness_checks = dg.build_time_partition_freshness_checks(
    assets=[forecasts], deadline_cron=deadline_cron(), timezone="UTC", severity=dg.AssetCheckSeverity.WARN
)
# A deadline is days away: evaluating every five minutes is plenty, and the check runs queue behind every
# queued month (the run queue starts higher priorities first) instead of delaying a backfill by a run each.
forecast_freshness_sensor = dg.build_sensor_for_freshness_checks(
    freshness_checks=forecast_freshness_checks,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    tags=AFTER_EVERY_MONTH,
)
