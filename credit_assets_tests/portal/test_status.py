"""The portal's month states on a real Dagster instance: a run of the real month jobs is created and its events
(run status changes, step starts in the order of the job's own execution plan) are reported one by one, the way the
sensor, the run queue and the run worker report them; the state is read after each."""

from pathlib import Path

import dagster as dg
from dagster._core.events import DagsterEvent, DagsterEventType
from dagster._core.execution.api import create_execution_plan
from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin

from credit_assets.core.months import FIRST_MONTH, history_note
from credit_assets.core.store import ArtifactStore
from credit_assets.definitions import defs
from credit_assets.keys import PARTITION_TAG
from credit_assets.portal import status

ORDER = ["landed", "queued", "validating", "scoring"]
WAITING_EVENTS = [DagsterEventType.RUN_ENQUEUED, DagsterEventType.RUN_STARTING, DagsterEventType.RUN_START]


def steps_of(job_name: str) -> list[str]:
    return create_execution_plan(defs.resolve_job_def(job_name)).step_keys_to_execute


def report(instance: dg.DagsterInstance, run: dg.DagsterRun, event: DagsterEventType, step: str | None = None) -> None:
    instance.report_dagster_event(DagsterEvent(event.value, run.job_name, step_key=step), run_id=run.run_id)


def states_along_the_run(instance: dg.DagsterInstance, root: Path, job_name: str, month: str) -> list[tuple[str, str]]:
    """(state, detail) as the run is created (NOT_STARTED), queued, starting, started and runs each step."""
    store = ArtifactStore.at(root)
    # a queued run names the code location it comes from, as the sensor's runs do
    origin = RemoteJobOrigin(
        RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("credit_assets"), "__repository__"), job_name
    )
    run = instance.create_run_for_job(
        defs.resolve_job_def(job_name), tags={PARTITION_TAG: month}, remote_job_origin=origin
    )
    seen = [status.month_status(instance, store, month)]
    for event in WAITING_EVENTS:
        report(instance, run, event)
        seen.append(status.month_status(instance, store, month))
    for step in steps_of(job_name):
        report(instance, run, DagsterEventType.STEP_START, step)
        seen.append(status.month_status(instance, store, month))
    return [(found.state, found.detail) for found in seen]


def test_a_scored_month_is_queued_until_a_step_starts_and_then_only_moves_forward(
    instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    seen = states_along_the_run(instance, tmp_path, "score_month", "2020-10")
    states = [state for state, _ in seen]
    assert states[:4] == ["queued"] * 4  # NOT_STARTED, QUEUED, STARTING, STARTED without a step
    assert [ORDER.index(state) for state in states] == sorted(ORDER.index(state) for state in states)
    details = [detail for _, detail in seen[4:]]
    assert details[:2] == ["reading the file", "checking the file"]
    assert {"training the model", "scoring the applications", "writing the reports"} <= set(details)
    assert not [detail for detail in details if "_" in detail]  # no step key shows through


def test_the_history_month_is_validated_and_then_described_as_the_history(
    instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    seen = states_along_the_run(instance, tmp_path, "ingest_month", FIRST_MONTH)
    assert [state for state, _ in seen] == ["queued"] * 4 + ["validating"] * len(steps_of("ingest_month"))
    run = instance.get_runs(limit=1)[0]
    report(instance, run, DagsterEventType.RUN_SUCCESS)
    done = status.month_status(instance, ArtifactStore.at(tmp_path), FIRST_MONTH)
    assert (done.state, done.detail, done.history) == ("ingested", history_note(FIRST_MONTH), True)
    assert done.detail == "2020-09 is the history month: it is kept for training and never scored"


def test_every_step_of_the_month_jobs_has_plain_words() -> None:
    for job_name in ("score_month", "ingest_month"):
        assert [step for step in steps_of(job_name) if status.plain_step(step).startswith("running ")] == []


def test_a_missing_download_says_why() -> None:
    assert status.not_produced(FIRST_MONTH, "forecasts") == (
        "2020-09 is the history month: it is kept for training and never scored, so it has no forecasts."
    )
    assert status.not_produced("2020-10", "notices") == "2020-10 has no notices yet: it is produced once scored."
