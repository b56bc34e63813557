"""Faults with the real processes: 24 months landed at once, then `dagster-daemon` and a month's run killed.

The daemon runs as `dagster-daemon run` on a fresh SQLite instance with the project's dagster.yaml (one run at a
time, run retries on), so the test can kill it with SIGKILL and start it again. The months are small: what is
measured is the machinery (sensor, run queue, run worker, code server, run retries), not the model.
"""

import itertools
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pandas as pd

from credit_assets.core.modeling.registry import ModelRegistry
from credit_assets.core.months import landing_file_name
from credit_assets.core.store import ArtifactStore
from credit_assets.defs.landing_sensor import LANDING_FILE_TAG
from credit_assets.synthetic.generate import GeneratorConfig, generate_landing_files
from credit_assets_tests.support.e2e import (
    VENV_BIN,
    log_tail,
    spawn_interruptible,
    stop_process_group,
    wait_until,
    write_instance,
)

LANDED = GeneratorConfig(seed=23, history_rows=2_000, months=24, rows_per_month=120)
MONTHS = LANDED.month_keys  # the history 2020-09, then 24 months to 2022-09
CRASHED = MONTHS[-1]  # landed again and killed mid-run: no later month depends on it
FINISHED = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
ALL_MONTHS_SECONDS = 30 * 60  # 25 run processes one after another on a loaded 2-core machine
RUN_SECONDS = 5 * 60
WORKER_PID = re.compile(r"Started process for run \(pid: (\d+)\)")


@contextmanager
def daemon(home: Path, storage_root: Path) -> Iterator[subprocess.Popen]:
    """`dagster-daemon run` on the instance in `home`, in its own process group; always stopped."""
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        "DAGSTER_HOME": str(home),
        "CREDIT_ASSETS_STORAGE_ROOT": str(storage_root),
        "OMP_WAIT_POLICY": "PASSIVE",  # LightGBM's spinning threads next to another busy process
    }
    log = home / f"daemon-{time.monotonic_ns()}.log"
    with open(log, "wb") as output:
        process = spawn_interruptible([str(VENV_BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"], env, output)
    try:
        yield process
    except Exception as error:
        error.add_note(f"dagster-daemon log ({log}):\n{log_tail(log)}")
        raise
    finally:
        stop_process_group(process)


def land(folder: Path, months: list[str]) -> None:
    """Make the months' files look settled, so the sensor's first tick requests them all at once."""
    settled = time.time() - 60
    for month in months:
        os.utime(folder / landing_file_name(month), (settled, settled))


def month_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    """Every run of a landed file, oldest first."""
    runs = [run for run in instance.get_runs() if LANDING_FILE_TAG in run.tags]
    return sorted(runs, key=lambda run: instance.get_run_record_by_id(run.run_id).create_timestamp)


def all_finished(instance: dg.DagsterInstance, count: int) -> list[dg.DagsterRun] | None:
    runs = month_runs(instance)
    return runs if len(runs) == count and all(run.status in FINISHED for run in runs) else None


def run_times(instance: dg.DagsterInstance, run: dg.DagsterRun) -> tuple[float, float]:
    record = instance.get_run_record_by_id(run.run_id)
    return record.start_time, record.end_time


def step_started(instance: dg.DagsterInstance, run_id: str, step: str) -> bool:
    events = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)
    return any(event.step_key == step for event in events)


def worker_pid(instance: dg.DagsterInstance, run_id: str) -> int:
    """The run worker's process ID, from the engine event it logs when it starts."""
    for event in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        found = WORKER_PID.search(event.message or "")
        if found:
            return int(found.group(1))
    raise AssertionError(f"run {run_id} logged no process ID")


def relanded(path: Path) -> None:
    """The same applications in reverse order: a new file content (a new run key), the same month."""
    header, *rows = path.read_text().splitlines(keepends=True)
    path.write_text(header + "".join(reversed(rows)))


def sorted_forecasts(storage_root: Path, month: str) -> pd.DataFrame:
    frame = pd.read_csv(storage_root / "forecasts" / f"forecasts_{month}.csv")
    return frame.sort_values("SK_ID_CURR", ignore_index=True)


def retry_of(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRun | None:
    """The finished automatic retry of a run, if there is one."""
    retries = [run for run in instance.get_runs() if run.tags.get("dagster/parent_run_id") == run_id]
    return retries[0] if retries and retries[0].status in FINISHED else None


def test_months_landed_together_run_once_in_order_and_a_killed_run_is_retried_whole(tmp_path: Path) -> None:
    home, storage_root = tmp_path / "dagster_home", tmp_path / "data"
    write_instance(home, {"sqlite": {"base_dir": str(home)}})  # the test reads the same instance as the daemon
    generate_landing_files(LANDED, storage_root / "landing", tmp_path / "generator_truth")
    land(storage_root / "landing", MONTHS)

    with dg.DagsterInstance.from_config(str(home)) as instance:
        with daemon(home, storage_root) as first_daemon:
            runs = wait_until(
                lambda: all_finished(instance, len(MONTHS)), ALL_MONTHS_SECONDS, "every landed month's run", interval=5
            )
            assert [(run.tags["dagster/partition"], run.status) for run in runs] == [
                (month, dg.DagsterRunStatus.SUCCESS) for month in MONTHS
            ]
            timed = [run_times(instance, run) for run in runs]
            assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(timed)), "months overlapped"
            before = sorted_forecasts(storage_root, CRASHED)

            relanded(storage_root / "landing" / landing_file_name(CRASHED))
            land(storage_root / "landing", [CRASHED])
            crashed = wait_until(
                lambda: next(iter(month_runs(instance)[len(MONTHS) :]), None), RUN_SECONDS, "the relanded month's run"
            )
            wait_until(lambda: step_started(instance, crashed.run_id, "model"), RUN_SECONDS, "its model step", 0.2)
            os.kill(first_daemon.pid, signal.SIGKILL)
            os.kill(worker_pid(instance, crashed.run_id), signal.SIGKILL)
            # the code server that launched the run sees its process gone and marks the run failed
            wait_until(
                lambda: instance.get_run_by_id(crashed.run_id).status in FINISHED, 120, "the killed run marked finished"
            )
            assert instance.get_run_by_id(crashed.run_id).status == dg.DagsterRunStatus.FAILURE

        with daemon(home, storage_root):  # restarted: run_retries relaunches the failed month once
            retry = wait_until(lambda: retry_of(instance, crashed.run_id), RUN_SECONDS, "the automatic retry")

        assert retry.status == dg.DagsterRunStatus.SUCCESS
        assert retry.tags["dagster/partition"] == CRASHED and retry.tags["dagster/retry_number"] == "1"
        assert [run.run_id for run in month_runs(instance)[len(MONTHS) :]] == [crashed.run_id, retry.run_id]
        forecasts = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("forecasts"), asset_partitions=[CRASHED]), limit=10
        ).records
        assert [record.run_id for record in forecasts] == [retry.run_id, runs[-1].run_id]  # newest first

    # nothing torn: no temp file left, every table readable, the promotion log's chain intact, same forecasts
    assert not list(storage_root.rglob(".*.tmp"))
    for table in (storage_root / "tables").rglob("*.parquet"):
        pd.read_parquet(table)
    registry = ModelRegistry(ArtifactStore(storage_root).registry_dir)
    for card in registry.cards():
        registry.verify(card.version)  # every model's files match the hashes written with them
    decisions = registry.promotions()  # reading checks the log's hash chain
    assert [entry["month"] for entry in decisions[: len(MONTHS) - 1]] == MONTHS[1:]
    assert {entry["month"] for entry in decisions[len(MONTHS) - 1 :]} == {CRASHED}  # killed before or after deciding
    assert decisions[-1]["trigger"]["run_id"] == retry.run_id
    pd.testing.assert_frame_equal(sorted_forecasts(storage_root, CRASHED), before)
