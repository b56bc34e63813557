"""Dagster jobs the benchmark runs besides the platform's own: the core path of a month, in or out of process.

The platform's Definitions default to the in-process executor, so run config cannot switch `score_month` to
processes; these jobs use `multi_or_in_process_executor`, where `execution: {config: {multiprocess: {}}}` picks
Dagster's multiprocess executor (spawned step processes, `max_concurrent` = CPU count) and `in_process: {}` the other.
They are module-level functions so `dg.reconstructable` can rebuild them in each step process.
"""

from typing import Any

import dagster as dg

from credit_assets.definitions import defs
from credit_assets.defs.forecast_freshness import forecast_freshness_checks
from credit_assets.defs.partitions import monthly_partitions

CORE_ASSETS = ["raw_applications", "validated_applications", "features", "model", "forecasts"]
CORE_JOB = "bench_core_month"


def _core_job_definitions() -> dg.Definitions:
    """The platform's assets, checks and resources with one extra job: the core path, executor by run config."""
    job = dg.define_asset_job(
        CORE_JOB,
        # like score_month: freshness is judged by its own sensor against the clock, not per run
        selection=dg.AssetSelection.assets(*CORE_ASSETS) - dg.AssetSelection.checks(*forecast_freshness_checks),
        partitions_def=monthly_partitions,
        executor_def=dg.multi_or_in_process_executor,
        description="landing file -> raw -> validated -> features -> model -> forecasts (with their checks)",
    )
    return dg.Definitions(
        assets=defs.assets,
        asset_checks=defs.asset_checks,
        jobs=[job],
        resources=defs.resources,
    )


def core_month_job() -> dg.JobDefinition:
    """The core path of one month as a job (reconstructable: a module-level function without arguments)."""
    return _core_job_definitions().resolve_job_def(CORE_JOB)


def platform_job(name: str) -> dg.JobDefinition:
    """`score_month` or `ingest_month` exactly as the platform defines them (in-process executor)."""
    return defs.resolve_job_def(name)


def executor_config(multiprocess: bool) -> dict[str, Any]:
    """Run config that selects the executor of the core job."""
    return {"execution": {"config": {"multiprocess": {}} if multiprocess else {"in_process": {}}}}
