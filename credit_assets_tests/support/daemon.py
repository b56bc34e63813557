"""`dagster-daemon run` on a fresh SQLite instance, with the months it launches from landed files."""

import os
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pandas as pd
from dagster._core.scheduler.instigation import InstigatorTick, InstigatorType, TickStatus

from credit_assets.core.months import landing_file_name
from credit_assets.core.store import FORECASTS_EXPORT, ArtifactStore
from credit_assets.keys import LANDING_FILE_TAG, PARENT_RUN_TAG
from credit_assets.synthetic.generate import GeneratorConfig, generate_landing_files
from credit_assets_tests.support.e2e import VENV_BIN, log_tail, spawn_interruptible, stop_process_group, write_instance

FINISHED = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
WORKER_PID = re.compile(r"Started process for run \(pid: (\d+)\)")


def landed_instance(tmp_path: Path, landed: GeneratorConfig) -> tuple[Path, Path]:
    """A SQLite instance the test reads as the daemon does, and a storage root with every month's file settled."""
    home, storage_root = tmp_path / "dagster_home", tmp_path / "data"
    write_instance(home, {"sqlite": {"base_dir": str(home)}})
    generate_landing_files(landed, storage_root / "landing", tmp_path / "generator_truth")
    land(storage_root / "landing", landed.month_keys)
    return home, storage_root


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
    """When the run queue let the run go and when the run ended, from the run's event log.

    The queue daemon logs RUN_STARTING as it dequeues a run, before it launches the run worker: a later month
    dequeued before an earlier one ended breaks "one month at a time" even if its worker started late."""
    ended = {dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE, dg.DagsterEventType.RUN_CANCELED}
    events = instance.all_logs(run.run_id, of_type={dg.DagsterEventType.RUN_STARTING, *ended})
    dequeued = [event.timestamp for event in events if event.dagster_event_type == dg.DagsterEventType.RUN_STARTING]
    finished = [event.timestamp for event in events if event.dagster_event_type in ended]
    assert len(dequeued) == 1 and len(finished) == 1, f"run {run.run_id}: dequeued {dequeued}, ended {finished}"
    return dequeued[0], finished[0]


def sensor_ticks(instance: dg.DagsterInstance, sensor: str, after: float) -> list[InstigatorTick]:
    """The sensor's completed ticks that started after the timestamp `after`, oldest first."""
    states = instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
    ticks = [
        tick
        for state in states
        if state.instigator_name == sensor
        for tick in instance.get_ticks(state.instigator_origin_id, state.selector_id, after=after)
    ]
    return sorted((tick for tick in ticks if tick.status != TickStatus.STARTED), key=lambda tick: tick.timestamp)


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
    """The month's stored forecasts table (Parquet) as written, in SK_ID_CURR order."""
    frame = ArtifactStore.at(storage_root).read_table("forecasts", month)
    return frame.sort_values("SK_ID_CURR", ignore_index=True)


def sorted_export(storage_root: Path, month: str) -> list[bytes]:
    """The month's exported forecasts CSV byte for byte: its header line, then its application lines sorted."""
    header, *rows = ArtifactStore.at(storage_root).read_export(FORECASTS_EXPORT, month).splitlines(keepends=True)
    return [header, *sorted(rows)]


def retry_of(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRun | None:
    """The finished automatic retry of a run, if there is one."""
    retries = [run for run in instance.get_runs() if run.tags.get(PARENT_RUN_TAG) == run_id]
    return retries[0] if retries and retries[0].status in FINISHED else None
