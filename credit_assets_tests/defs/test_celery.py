"""The distributed profile for real: PostgreSQL instance, Redis broker, two Celery worker processes, a backfill.

The same months also run with the default profile (SQLite, in-process executor) into a second storage root; every
step must have run on a Celery worker, both workers must have run steps, and the forecasts must match bit for bit.
"""

import os
import shutil
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml
from dagster._core.events import DagsterEventType

import credit_assets.definitions_celery as celery_location
from credit_assets.core.months import FIRST_MONTH
from credit_assets.core.store import ArtifactStore
from credit_assets_tests.support.celery_cluster import (
    CELERY_DEPLOY,
    Worker,
    celery_workers,
    months_running,
    redis_server,
    run_months,
)
from credit_assets_tests.support.e2e import postgres_server, write_instance
from credit_assets_tests.support.materialise import INGEST, MONTHS, storage_with

BACKFILL = MONTHS[:3]  # the history (ingest_month), then two scored months (score_month)
WORKER_NAMES = ["alpha", "beta"]
CELERY_WORKER_KEY = "Celery worker"  # dagster_celery.tasks: metadata of the worker's "Executing steps" engine event


def test_worker_config_matches_the_executor_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """deploy/celery/celery.yaml (read by the workers) names the broker and app settings the executor uses."""
    monkeypatch.setenv(celery_location.BROKER_ENV, "redis://broker.example:6379/3")
    worker_config = yaml.safe_load((CELERY_DEPLOY / "celery.yaml").read_text())["execution"]["config"]
    resolved = {
        key: os.environ[value["env"]] if isinstance(value, dict) and "env" in value else value
        for key, value in worker_config.items()
    }
    assert resolved == celery_location.celery_config()
    monkeypatch.delenv(celery_location.BROKER_ENV)
    assert celery_location.broker_url() == celery_location.DEFAULT_BROKER
    assert celery_location.defs.resolve_job_def("score_month").executor_def.name == "celery"


def _steps_by_worker(instance: dg.DagsterInstance, run_id: str) -> dict[str, dict]:
    """Per step key: the Celery worker its engine event names and the pid of its STEP_START event."""
    steps: dict[str, dict] = defaultdict(dict)
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == DagsterEventType.ENGINE_EVENT:
            worker = event.engine_event_data.metadata.get(CELERY_WORKER_KEY)
            if worker is not None:
                steps[event.step_key]["worker"] = worker.value
        elif event.event_type == DagsterEventType.STEP_START:
            steps[event.step_key]["pid"] = event.pid
        elif event.event_type == DagsterEventType.STEP_SUCCESS:
            steps[event.step_key]["success"] = True
    return dict(steps)


def _materialised(instance: dg.DagsterInstance, run_id: str) -> set[tuple[str, str]]:
    """(asset, partition) of every materialisation the run reported."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION).records
    return {
        (r.event_log_entry.dagster_event.asset_key.to_user_string(), r.event_log_entry.dagster_event.partition)
        for r in records
    }


def test_backfill_on_two_celery_workers_matches_the_in_process_executor(small_landing: Path, tmp_path: Path) -> None:
    shared_root, local_root = tmp_path / "shared", tmp_path / "local"
    for root in (shared_root, local_root):
        storage_with(root, small_landing, BACKFILL)
    celery_home, local_home = tmp_path / "celery_home", tmp_path / "local_home"
    celery_home.mkdir()
    shutil.copy(CELERY_DEPLOY / "dagster.yaml", celery_home / "dagster.yaml")  # the deployment file as it is
    write_instance(local_home)  # the embedded default: SQLite, and the in-process executor of credit_assets.definitions
    local_env = {"DAGSTER_HOME": str(local_home), "CREDIT_ASSETS_STORAGE_ROOT": str(local_root)}

    with redis_server() as broker, postgres_server() as pg_env:
        # the in-process baseline runs meanwhile, in a process of its own: the two profiles share the machine's cores
        with months_running("credit_assets.definitions", BACKFILL, local_env, tmp_path / "local.log") as local_runs:
            env = {
                **pg_env,
                "DAGSTER_HOME": str(celery_home),
                "CREDIT_ASSETS_STORAGE_ROOT": str(shared_root),
                celery_location.BROKER_ENV: broker,
                "OMP_WAIT_POLICY": "PASSIVE",
            }
            with celery_workers(WORKER_NAMES, {**os.environ, **env}, tmp_path) as workers:
                runs = run_months("credit_assets.definitions_celery", BACKFILL, env, tmp_path / "celery-runs.log")
                worker_pids = {worker.node: worker.pids() for worker in workers}
            with _environment(pg_env), dg.DagsterInstance.from_config(str(celery_home)) as instance:
                steps = {run["month"]: _steps_by_worker(instance, run["run_id"]) for run in runs}
                celery_materialised = {run["month"]: _materialised(instance, run["run_id"]) for run in runs}
                statuses = {run["month"]: instance.get_run_by_id(run["run_id"]).status for run in runs}
            baseline = local_runs()
    with _environment(local_env), dg.DagsterInstance.from_config(str(local_home)) as instance:
        local_materialised = {run["month"]: _materialised(instance, run["run_id"]) for run in baseline}

    assert statuses == {month: dg.DagsterRunStatus.SUCCESS for month in BACKFILL}
    _assert_steps_ran_on_both_workers(steps, workers, worker_pids)
    scored = [month for month in BACKFILL if month != FIRST_MONTH]
    for month in BACKFILL:
        expected = [*INGEST, "model", "forecasts"] if month in scored else INGEST
        assert {(asset, month) for asset in expected} <= celery_materialised[month]
        assert celery_materialised[month] == local_materialised[month]
    # The same forecasts to the bit: both profiles train with a fixed seed and deterministic LightGBM on the same rows.
    # The frames first, for a readable difference; then the files as written, the Parquet table and the CSV export.
    shared, local = ArtifactStore.at(shared_root), ArtifactStore.at(local_root)
    for month in scored:
        pd.testing.assert_frame_equal(
            shared.read_table("forecasts", month), local.read_table("forecasts", month), check_exact=True
        )
        for path in (Path("tables", "forecasts", f"{month}.parquet"), Path("forecasts", f"forecasts_{month}.csv")):
            assert (shared.root / path).read_bytes() == (local.root / path).read_bytes(), f"{path} differs"


@contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    """These environment variables in this process, for instance yaml that reads them (`env:`)."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in variables.items():
            patch.setenv(key, value)
        yield


def _assert_steps_ran_on_both_workers(
    steps: dict[str, dict[str, dict]], workers: list[Worker], worker_pids: dict[str, set[int]]
) -> None:
    """Every step succeeded in a process of the worker its Celery engine event names, and both workers ran steps."""
    used = defaultdict(list)
    for month, by_step in steps.items():
        assert by_step, f"no steps recorded for {month}"
        for step, facts in by_step.items():
            assert facts.get("success"), f"{month} {step} did not succeed: {facts}"
            assert facts.get("worker") in worker_pids, f"{month} {step} has no Celery worker event: {facts}"
            assert facts["pid"] in worker_pids[facts["worker"]], f"{month} {step} ran outside {facts['worker']}"
            used[facts["worker"]].append(f"{month} {step}")
    assert set(used) == {worker.node for worker in workers}, f"steps by worker: {dict(used)}"
