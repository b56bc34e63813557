"""monthly_scoring: on the 2nd of each month, score the month that has just closed unless the sensor already did."""

import dagster as dg

from credit_assets.core.months import landing_file_name, previous_month
from credit_assets.defs.assets.raw_applications import last_materialisation
from credit_assets.defs.jobs import score_month
from credit_assets.defs.partitions import oldest_month_first
from credit_assets.defs.storage import StorageResource


@dg.schedule(
    cron_schedule="0 6 2 * *",
    job=score_month,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Backstop of the landing sensor: runs the closed month once its file is there and not yet scored.",
)
def monthly_scoring(context: dg.ScheduleEvaluationContext, storage: StorageResource) -> dg.RunRequest | dg.SkipReason:
    """Request the closed month's partition when its landing file exists and was not materialised yet."""
    month = previous_month(context.scheduled_execution_time.strftime("%Y-%m"))
    store, name = storage.store, landing_file_name(month)
    if not store.has_landing(name):
        where = store.landing_location(name)
        return dg.SkipReason(f"{month}: no landing file yet ({where}); the forecasts freshness check flags it")
    digest = store.landing_sha256(name)
    last = last_materialisation(context.instance, month)
    if last is not None and last[0] == digest:
        return dg.SkipReason(f"{month}: already materialised from this file")
    return dg.RunRequest(run_key=f"{name}:{digest[:16]}", partition_key=month, tags=oldest_month_first(month))
