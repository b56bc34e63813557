"""Monthly partitions and the one preamble every monthly asset and check shares."""

from collections.abc import Callable
from typing import Any

import dagster as dg

from credit_assets.core.months import FIRST_MONTH, months_between
from credit_assets.keys import PRIORITY_TAG

monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=FIRST_MONTH, fmt="%Y-%m")

# One run per month in backfills: every month passes its own blocking checks and fails alone, and a month's
# model reads the features of the months before it, so months are materialised in order, not as one range.
ONE_MONTH_PER_RUN = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)

# Month M's model trains on every labelled month before M; the lineage graph records the newest of them (M-1)
# and training refuses gaps. A window over all earlier months would make a backfill of a few months of
# features fan out to every later month's model.
PREVIOUS_MONTH = dg.TimeWindowPartitionMapping(
    start_offset=-1, end_offset=-1, allow_nonexistent_upstream_partitions=True
)


# A transient fault (an I/O error, a lost connection) gets two more attempts, 1 s and 2 s later. A Refusal (bad
# input, a missing upstream month, a tampered model, invalid config) is never retried: it would fail the same way.
TRANSIENT_RETRIES = dg.RetryPolicy(max_retries=2, delay=1, backoff=dg.Backoff.EXPONENTIAL)


def oldest_month_first(month: str) -> dict[str, str]:
    """Run tags that queue a month ahead of every later month: Dagster's run queue starts the highest
    `dagster/priority` first, so runs requested together start in month order, and a crashed month's automatic
    retry (which keeps its tags) starts before later months still waiting in the queue."""
    return {PRIORITY_TAG: str(-months_between(FIRST_MONTH, month))}


# Below every month's priority for the next 8,000 years: runs tagged with it wait until no month is queued.
AFTER_EVERY_MONTH = {PRIORITY_TAG: str(-100_000)}


# A month's labels land long after its forecasts, and the landing sensor then only ingests the month again: the
# reports that read labels (performance and backtest, economics, the shadow comparison, the documentation pack)
# are refreshed when their upstream months change, in any month, not only the newest partition as `eager` does.
# Their checks carry no condition of their own, so Dagster runs every one of them with the refreshed asset.
REFRESH_WHEN_UPSTREAM_CHANGES = dg.AutomationCondition.eager().without(dg.AutomationCondition.in_latest_time_window())


class Refusal(dg.Failure):
    """A step failure that retrying cannot fix; it fails at once, whatever the retry policy."""

    def __init__(self, description: str | None = None, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(description=description, metadata=metadata, allow_retries=False)


def monthly_asset(**kwargs: Any) -> Callable[..., dg.AssetsDefinition]:
    """`dg.asset` for one month per partition and per backfill run, retried on transient faults."""
    return dg.asset(
        partitions_def=monthly_partitions, backfill_policy=ONE_MONTH_PER_RUN, retry_policy=TRANSIENT_RETRIES, **kwargs
    )


def monthly_check(**kwargs: Any) -> Callable[..., dg.AssetChecksDefinition]:
    """`dg.asset_check` with the monthly partitions (every month keeps its own check history), retried likewise."""
    return dg.asset_check(partitions_def=monthly_partitions, retry_policy=TRANSIENT_RETRIES, **kwargs)


def monthly_check_spec(name: str, **kwargs: Any) -> dg.AssetCheckSpec:
    """An in-asset check with the monthly partitions, so every month keeps its own check history."""
    return dg.AssetCheckSpec(name, partitions_def=monthly_partitions, **kwargs)
