"""approval_sensor: an approved champion requests the runs of the months that waited for one.

The first champion is the only one months wait for: later candidates await approval while the champion before
them keeps scoring. So when an approval lands in the promotion log, every landed month from the candidate's
development month on that has no forecasts yet is run again, oldest first, and scores with the new champion.
"""

import dagster as dg

from credit_assets.core.modeling import change_control
from credit_assets.core.months import month_of_landing_file
from credit_assets.defs.assets.forecasts import forecasts
from credit_assets.defs.jobs import job_for_month, score_month
from credit_assets.defs.partitions import monthly_partitions, oldest_month_first
from credit_assets.defs.storage import StorageResource
from credit_assets.keys import APPROVAL_TAG


def waiting_months(storage: StorageResource, since: str) -> list[str]:
    """Landed months from `since` on that are partitions and have no forecasts, oldest first."""
    store, partitions = storage.store, set(monthly_partitions.get_partition_keys())
    landed = {month_of_landing_file(name) for name in store.landing_names()}
    return sorted(
        month
        for month in landed
        if month
        and month >= since
        and month in partitions
        and not store.has_table(forecasts.key.to_user_string(), month)
    )


@dg.sensor(
    jobs=[score_month],
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests the runs of the months that waited for a champion once a model_risk user approves one.",
)
def approval_sensor(context: dg.SensorEvaluationContext, storage: StorageResource) -> dg.SensorResult:
    """One run request per waiting month for every approval in the promotion log after the cursor."""
    seen = int(context.cursor or 0)
    approvals = [
        entry
        for entry in storage.registry.promotions()
        if change_control.kind(entry) == change_control.APPROVAL
        and entry["decision"] == change_control.APPROVE
        and entry["sequence"] > seen
    ]
    requests = [
        dg.RunRequest(
            run_key=f"approval-{entry['sequence']}-{month}",
            partition_key=month,
            job_name=job_for_month(month),
            tags={APPROVAL_TAG: str(entry["sequence"]), **oldest_month_first(month)},
        )
        for entry in approvals
        for month in waiting_months(storage, entry["month"])
    ]
    cursor = max([seen, *(entry["sequence"] for entry in approvals)])
    return dg.SensorResult(run_requests=requests, cursor=str(cursor))
