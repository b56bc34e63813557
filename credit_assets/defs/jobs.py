"""Jobs: ingest a month (the history only gets this far) or run a month through to its forecasts."""

import dagster as dg

from credit_assets.core.memory import release_freed_memory
from credit_assets.core.months import FIRST_MONTH
from credit_assets.defs.assets.data_profile import data_profile
from credit_assets.defs.forecast_freshness import forecast_freshness_checks
from credit_assets.defs.partitions import monthly_partitions

INGEST_GROUP = "ingest"


# Steps share the run's process: without this, the history month's CSV and GX buffers, freed but kept by the
# allocators or by reference cycles, stack under the next step (history ingest peak 1.9 GiB instead of 1.5 GiB).
# Only the ingest job needs it: a full collection costs about 0.25 s a step, and a month's 10,000 rows never
# come near the limit.
@dg.success_hook
def release_memory_after_success(_: dg.HookContext) -> None:
    release_freed_memory()


@dg.failure_hook
def release_memory_after_failure(_: dg.HookContext) -> None:
    release_freed_memory()


RELEASE_MEMORY = {release_memory_after_success, release_memory_after_failure}

ingest_month = dg.define_asset_job(
    "ingest_month",
    selection=dg.AssetSelection.groups(INGEST_GROUP) | dg.AssetSelection.assets(data_profile),
    partitions_def=monthly_partitions,
    hooks=RELEASE_MEMORY,
    description="Landing file -> raw -> validated -> features (and the month's data profile) for one month.",
)

score_month = dg.define_asset_job(
    "score_month",
    # freshness is judged by its own sensor against the clock, not per run
    selection=dg.AssetSelection.all() - dg.AssetSelection.checks(*forecast_freshness_checks),
    partitions_def=monthly_partitions,
    description="One month from landing file to forecasts and, once labelled, their performance.",
)


def job_for_month(month: str) -> str:
    """The history month has no labelled month before it, so it is only ingested; later months are scored."""
    return ingest_month.name if month == FIRST_MONTH else score_month.name
