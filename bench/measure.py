"""Run one measurement in a fresh process: wall time, CPU (user + sys, children included) and peak memory."""

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
POLL_SECONDS = 0.2
PROJECT_DIR = Path(__file__).resolve().parents[1]


@dataclass
class Measurement:
    """What one worker process (and every process it started) cost, plus what the worker reported."""

    kind: str
    label: str
    returncode: int
    wall_s: float
    cpu_s: float
    user_s: float
    sys_s: float
    max_rss_single_mib: float  # kernel high-water mark of the largest single process of the tree
    peak_tree_rss_mib: float  # sum of RSS over the process tree, sampled every POLL_SECONDS
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and bool(self.report.get("success", False))

    @property
    def peak_rss_mib(self) -> float:
        return max(self.max_rss_single_mib, self.peak_tree_rss_mib)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok, "peak_rss_mib": self.peak_rss_mib}


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process visible in /proc."""
    parents = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat[stat.rindex(b")") + 2 :].split()[1])
    return parents


def _tree(root: int) -> list[int]:
    """The root process and all its descendants."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def tree_rss_bytes(root: int) -> int:
    """Current resident memory of a process tree (sum over its processes)."""
    total = 0
    for pid in _tree(root):
        try:
            with open(f"/proc/{pid}/statm", "rb") as handle:
                total += int(handle.read().split()[1]) * PAGE_BYTES
        except OSError:
            continue
    return total


class TreeMemoryPoller(threading.Thread):
    """Samples a process tree's RSS until stopped; keeps the peak."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root, self.peak, self._halt = root, 0, threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak = max(self.peak, tree_rss_bytes(self.root))
            self._halt.wait(POLL_SECONDS)

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return self.peak


def python_path(checkout: Path) -> str:
    """PYTHONPATH of a worker: the checkout first (ahead of the venv's editable install), then any path set."""
    return os.pathsep.join(filter(None, [str(checkout), os.environ.get("PYTHONPATH", "")]))


def worker_env(root: Path, extra: dict[str, str] | None = None, checkout: Path = PROJECT_DIR) -> dict[str, str]:
    """Environment of a worker: storage root and Dagster home inside `root`, the checkout first on the path."""
    env = dict(os.environ)
    env.update(
        CREDIT_ASSETS_STORAGE_ROOT=str(root / "data"),
        DAGSTER_HOME=str(root / "dagster_home"),
        PYTHONPATH=python_path(checkout),
        PYTHONHASHSEED="0",
        BENCH_LAUNCH_TIME=repr(time.time()),
    )
    env.update(extra or {})
    return env


def run_worker(
    kind: str, label: str, root: Path, args: list[str], log: Path, checkout: Path = PROJECT_DIR
) -> Measurement:
    """Start `python -m bench.workers KIND ...` of `checkout` (its `bench` and `credit_assets`, with this
    interpreter) with `root` as its world and measure it to the end."""
    report_path = log.with_suffix(".json")
    report_path.unlink(missing_ok=True)
    command = [sys.executable, "-m", "bench.workers", kind, "--report", str(report_path), *args]
    env = worker_env(root, checkout=checkout)
    with open(log, "wb") as out:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=checkout, env=env, stdout=out, stderr=subprocess.STDOUT)
        poller = TreeMemoryPoller(process.pid)
        poller.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    peak = poller.stop()
    report = json.loads(report_path.read_text()) if report_path.exists() else {"success": False}
    return Measurement(
        kind=kind,
        label=label,
        returncode=process.returncode,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        user_s=usage.ru_utime,
        sys_s=usage.ru_stime,
        max_rss_single_mib=usage.ru_maxrss / 1024,
        peak_tree_rss_mib=peak / 2**20,
        report=report,
    )


def imported_from(checkout: Path) -> dict[str, str]:
    """Where a worker started for `checkout` imports `bench.workers` and `credit_assets` from (the same interpreter,
    working directory and path as `run_worker`): proof that a measurement ran the code it names."""
    code = "import bench.workers, credit_assets; print(bench.workers.__file__); print(credit_assets.__file__)"
    env = {**os.environ, "PYTHONPATH": python_path(checkout)}
    found = subprocess.run(
        [sys.executable, "-c", code], cwd=checkout, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    return {"bench.workers": found[0], "credit_assets": found[1]}
