"""Monthly partitions and the one preamble every monthly asset and check shares."""

from collections.abc import Callable
from typing import Any

import dagster as dg

from credit_assets.core.months import FIRST_MONTH

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


def monthly_asset(**kwargs: Any) -> Callable[..., dg.AssetsDefinition]:
    """`dg.asset` for one month per partition and per backfill run."""
    return dg.asset(partitions_def=monthly_partitions, backfill_policy=ONE_MONTH_PER_RUN, **kwargs)


def monthly_check(**kwargs: Any) -> Callable[..., dg.AssetChecksDefinition]:
    """`dg.asset_check` with the monthly partitions, so every month keeps its own check history."""
    return dg.asset_check(partitions_def=monthly_partitions, **kwargs)


def monthly_check_spec(name: str, **kwargs: Any) -> dg.AssetCheckSpec:
    """An in-asset check with the monthly partitions, so every month keeps its own check history."""
    return dg.AssetCheckSpec(name, partitions_def=monthly_partitions, **kwargs)
