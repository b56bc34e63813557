"""The distributed profile for real, on hosts that share no disk: `dagster dev` (webserver and daemon, the landing
sensor, the run queue) on this machine, two Celery workers each in a network and mount namespace of its own that
reach PostgreSQL, a password-protected Redis and an S3 server (moto) over a private bridge and see none of the
test's files. Months land in object storage and the sensor runs them; one worker's step process is killed in the
middle of a model step. The same months also run with the default profile (SQLite, in-process executor, a local
folder); every step must have run on a Celery worker, both workers must have run steps, and the tables, models and
exports must match bit for bit across the two.
"""

import importlib
import io
import os
import signal
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import s3fs
from dagster_celery.config import TASK_EXECUTE_JOB_NAME, TASK_EXECUTE_PLAN_NAME, TASK_RESUME_JOB_NAME

import credit_assets.celery_settings as celery_settings
import credit_assets.celery_worker as celery_worker
import credit_assets.definitions_celery as celery_location
from credit_assets.core.months import FIRST_MONTH
from credit_assets.core.store import FORECASTS_EXPORT, NOTICES_EXPORT, ArtifactStore
from credit_assets.keys import PARTITION_TAG
from credit_assets_tests.support.celery_cluster import (
    CELERY_DEPLOY,
    RUN_SECONDS,
    Worker,
    broker_password,
    celery_workers,
    months_running,
    redis_server,
)
from credit_assets_tests.support.daemon import all_finished
from credit_assets_tests.support.e2e import HOST, DagsterDev, dagster_dev, postgres_server, wait_until, write_instance
from credit_assets_tests.support.hosts import Network, private_network, reaches, sees
from credit_assets_tests.support.materialise import INGEST, MONTHS, storage_with
from credit_assets_tests.support.object_store import BUCKET, environment, fresh_prefix, s3_server

BACKFILL = MONTHS[:3]  # the history (ingest_month), then two scored months (score_month)
SCORED = [month for month in BACKFILL if month != FIRST_MONTH]
WORKER_HOSTS = ["alpha", "beta"]
KILLED_STEP = "model"
# what must be the same bytes on both backends: the tables, the models and the exports (the reports carry run ids
# and times, the promotion log the runs' ids)
BYTE_IDENTICAL = ("tables/", "registry/models/", "forecasts/", "notices/")
CELERY_WORKER_KEY = "Celery worker"  # dagster_celery.tasks: metadata of the worker's "Executing steps" engine event


@dataclass(frozen=True)
class KilledStep:
    run_id: str
    pid: int


def test_the_workers_app_takes_the_executors_broker_and_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The workers' Celery app listens to the broker the runs submit their steps to, with the same app settings."""
    monkeypatch.setenv(celery_settings.BROKER_ENV, "redis://:secret@broker.example:6379/3")
    app = importlib.reload(celery_worker).app
    executor = celery_settings.celery_config()
    assert (app.conf.broker_url, app.conf.result_backend) == (executor["broker"], executor["backend"])
    assert {key: app.conf[key] for key in executor["config_source"]} == executor["config_source"]
    assert {TASK_EXECUTE_PLAN_NAME, TASK_EXECUTE_JOB_NAME, TASK_RESUME_JOB_NAME} <= set(app.tasks)
    monkeypatch.delenv(celery_settings.BROKER_ENV)
    assert importlib.reload(celery_worker).app.conf.broker_url == celery_settings.DEFAULT_BROKER
    assert celery_location.defs.resolve_job_def("score_month").executor_def.name == "celery"


def _steps_by_worker(instance: dg.DagsterInstance, run_id: str) -> dict[str, dict]:
    """Per step key: the Celery worker its engine event names and the pid of its STEP_START event."""
    steps: dict[str, dict] = defaultdict(dict)
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.ENGINE_EVENT:
            worker = event.engine_event_data.metadata.get(CELERY_WORKER_KEY)
            if worker is not None:
                steps[event.step_key]["worker"] = worker.value
        elif event.event_type == dg.DagsterEventType.STEP_START:
            steps[event.step_key]["pid"] = event.pid
        elif event.event_type == dg.DagsterEventType.STEP_SUCCESS:
            steps[event.step_key]["success"] = True
    return dict(steps)


def _materialised(instance: dg.DagsterInstance, run_id: str) -> set[tuple[str, str]]:
    """(asset, partition) of every materialisation the run reported."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
    return {
        (r.event_log_entry.dagster_event.asset_key.to_user_string(), r.event_log_entry.dagster_event.partition)
        for r in records
    }


def test_months_landed_in_object_storage_run_on_two_worker_hosts_that_share_no_disk(
    small_landing: Path, tmp_path: Path
) -> None:
    local_root, local_home, home = tmp_path / "local", tmp_path / "local_home", tmp_path / "dagster_home"
    storage_with(local_root, small_landing, BACKFILL)
    write_instance(local_home)  # the embedded default: SQLite, and the in-process executor of credit_assets.definitions
    local_env = {"DAGSTER_HOME": str(local_home), "CREDIT_ASSETS_STORAGE_ROOT": str(local_root)}
    # every folder the test's processes write to (its instances, the local store, the logs) is under the temp folder
    hidden = sorted({Path(tempfile.gettempdir()), Path("/tmp")})
    assert any(tmp_path.is_relative_to(folder) for folder in hidden)

    with (
        private_network(WORKER_HOSTS) as network,
        s3_server(network.hub) as s3_env,
        redis_server(network.hub) as broker,
        postgres_server(network.hub, network.subnet) as pg_env,
    ):
        shared_root = fresh_prefix()
        log_prefix = f"{shared_root.removeprefix(f's3://{BUCKET}/')}-compute-logs"
        env = {
            **s3_env,
            **pg_env,
            celery_settings.BROKER_ENV: broker,
            "CREDIT_ASSETS_STORAGE_ROOT": shared_root,
            "DAGSTER_COMPUTE_LOGS_BUCKET": BUCKET,
            "DAGSTER_COMPUTE_LOGS_PREFIX": log_prefix,
            "OMP_WAIT_POLICY": "PASSIVE",
        }
        with environment(s3_env):
            storage_with(shared_root, small_landing, BACKFILL)  # the files land in object storage, nowhere else
        # the baseline runs meanwhile, in a process of its own, with the test deployment's model settings (its
        # environment's CREDIT_ASSETS_MODEL_DEFAULTS) as the sensor's runs have them
        baseline_log = tmp_path / "local.log"
        baseline = months_running("credit_assets.definitions", BACKFILL, local_env, baseline_log, fast_model=False)
        with baseline as local_runs:
            worker_env = {**os.environ, **env, "DAGSTER_HOME": str(hidden[0] / "worker_home")}
            with (
                celery_workers(network.hosts, hidden, worker_env, tmp_path) as workers,
                dagster_dev(home, shared_root, extra_env=env, deployment=CELERY_DEPLOY) as ui,
                environment(env),
                dg.DagsterInstance.from_config(str(home)) as instance,
            ):
                isolation = _isolation(network, hidden, ui, pg_env)
                pids_before_the_kill = {worker.node: worker.pids() for worker in workers}  # the killed one's too
                killed = _kill_the_step_process(instance, BACKFILL[-1], KILLED_STEP)
                runs = wait_until(lambda: all_finished(instance, len(BACKFILL)), RUN_SECONDS, "the landed months' runs")
                steps = {run.tags[PARTITION_TAG]: _steps_by_worker(instance, run.run_id) for run in runs}
                celery_materialised = {run.tags[PARTITION_TAG]: _materialised(instance, run.run_id) for run in runs}
                starts = _starts(instance, killed.run_id, KILLED_STEP)
                worker_pids = {worker.node: worker.pids() | pids_before_the_kill[worker.node] for worker in workers}
            baseline_runs = local_runs()
        with environment(s3_env):
            shared = ArtifactStore.at(shared_root)
            shared_bytes = {prefix: _objects(shared, prefix) for prefix in BYTE_IDENTICAL}
            read_back = {month: _read_back(shared, month) for month in SCORED}
            logs = s3fs.S3FileSystem(skip_instance_cache=True).find(f"{BUCKET}/{log_prefix}")
    with environment(local_env), dg.DagsterInstance.from_config(str(local_home)) as local_instance:
        local_materialised = {run["month"]: _materialised(local_instance, run["run_id"]) for run in baseline_runs}

    assert isolation == {"reaches the hub": True, "reaches the machine's loopback": False, "sees the instance": False}
    assert {run.tags[PARTITION_TAG]: run.status for run in runs} == {m: dg.DagsterRunStatus.SUCCESS for m in BACKFILL}
    _assert_steps_ran_on_both_workers(steps, workers, worker_pids)
    # the killed step ran again, in a process that was not the killed one, and its run went on to succeed
    assert len(starts) == 2 and starts[0] == killed.pid != starts[1], starts
    for month in BACKFILL:
        expected = [*INGEST, "model", "forecasts"] if month in SCORED else INGEST
        assert {(asset, month) for asset in expected} <= celery_materialised[month]
        assert celery_materialised[month] == local_materialised[month]
    # Read back from object storage: the forecasts, notices and documentation packs the months made; the tables,
    # models and exports equal the in-process run's on a local folder to the bit (fixed seeds, deterministic
    # LightGBM, the same rows), the killed and re-run model step included.
    local = ArtifactStore.at(local_root)
    assert read_back == {month: _read_back(local, month) for month in SCORED}
    for prefix in BYTE_IDENTICAL:
        assert shared_bytes[prefix] == _objects(local, prefix), f"{prefix} differs"
    # every run's step output is in object storage, where the UI reads it, not on the worker that ran the step
    for run in runs:
        assert any(f"/storage/{run.run_id}/compute_logs/" in key and key.endswith(".err") for key in logs), logs[:5]
    # the broker's password reached the workers by environment only: no file of the test's holds it
    assert not [path for path in tmp_path.rglob("*") if path.is_file() and broker_password(broker) in _text(path)]


def _objects(store: ArtifactStore, prefix: str) -> dict[str, bytes]:
    """Every stored object below `prefix`, by key."""
    return {key: store.blobs.get(key) for key in store.blobs.keys(prefix)}


def _read_back(store: ArtifactStore, month: str) -> tuple[int, int, str]:
    """The month's forecast and notice exports (rows) and its model's documentation pack (version), from the store."""
    forecasts = pd.read_csv(io.BytesIO(store.read_export(FORECASTS_EXPORT, month)))
    notices = pd.read_csv(io.BytesIO(store.read_export(NOTICES_EXPORT, month)))
    [version] = store.read_table("forecasts", month, ["model_version"])["model_version"].unique()
    assert version in store.read_documentation(version).decode("utf-8")
    return len(forecasts), len(notices), version


def _text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", "replace")


def _isolation(network: Network, hidden: list[Path], ui: DagsterDev, pg_env: dict[str, str]) -> dict[str, bool]:
    """What a process on a worker host can reach and see: PostgreSQL on the hub; not the webserver on the machine's
    loopback, nor the instance folder of the daemon's host."""
    host = network.hosts[0]
    return {
        "reaches the hub": reaches(host, network.hub, int(pg_env["DAGSTER_PG_PORT"])),
        "reaches the machine's loopback": reaches(host, HOST, ui.port),
        "sees the instance": sees(host, hidden, ui.home / "dagster.yaml"),
    }


def _kill_the_step_process(instance: dg.DagsterInstance, month: str, step: str) -> KilledStep:
    """Wait until the month's run starts `step` on a worker, then SIGKILL the process running it (as the kernel's
    out-of-memory killer would); returns the run and the killed pid."""

    def started() -> KilledStep | None:
        for run in instance.get_runs(dg.RunsFilter(tags={PARTITION_TAG: month})):
            pids = _starts(instance, run.run_id, step)
            if pids:
                return KilledStep(run.run_id, pids[0])
        return None

    killed = wait_until(started, RUN_SECONDS, f"{month}'s {step} step to start", interval=0.5)
    os.kill(killed.pid, signal.SIGKILL)
    return killed


def _starts(instance: dg.DagsterInstance, run_id: str, step: str) -> list[int]:
    """The pids of the step's STEP_START events in the run, in order."""
    events = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)
    return [event.dagster_event.pid for event in events if event.step_key == step]


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
