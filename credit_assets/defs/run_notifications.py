"""Run status sensors: every failed and every successful run is reported through the notifier."""

import dagster as dg

from credit_assets.defs.notifier import NotifierResource
from credit_assets.keys import LANDING_FILE_TAG, PARTITION_TAG


def _run_summary(run: dg.DagsterRun, status: str) -> dict:
    return {
        "status": status,
        "job": run.job_name,
        "partition": run.tags.get(PARTITION_TAG),
        "run_id": run.run_id,
        "landing_file": run.tags.get(LANDING_FILE_TAG),
    }


@dg.run_failure_sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Reports failed runs: job, partition, failed steps, error.",
)
def run_failure_notifier(context: dg.RunFailureSensorContext, notifier: NotifierResource) -> None:
    """Report the failed run with its failed steps and their errors."""
    failures = context.get_step_failure_events()
    errors = [
        event.event_specific_data.error.message.strip().splitlines()[0]
        for event in failures
        if event.event_specific_data.error
    ]
    notifier.notify(
        {
            **_run_summary(context.dagster_run, "failed"),
            "failed_steps": [event.step_key for event in failures],
            "error": " | ".join(errors) or (context.failure_event.message or "run failed"),
        }
    )


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Reports successful runs.",
)
def run_success_notifier(context: dg.RunStatusSensorContext, notifier: NotifierResource) -> None:
    """Report the successful run."""
    notifier.notify(_run_summary(context.dagster_run, "succeeded"))
