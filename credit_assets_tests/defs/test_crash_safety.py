"""Killed runs leave no torn artifact, the previous version survives, reruns succeed and are byte-identical."""

import ast
import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from credit_assets.core.databases import studies_url
from credit_assets.core.modeling.registry import ModelRegistry
from credit_assets.core.modeling.tuning import STUDY_PREFIX, study_trials
from credit_assets.defs.storage import StorageResource
from credit_assets.synthetic.generate import GeneratorConfig
from credit_assets_tests.support.materialise import (
    INGEST,
    MONTHS,
    copy_storage,
    materialize_month,
    scored_root,
    storage_with,
    write_small_landing,
)

HISTORY, FIRST = MONTHS[0], MONTHS[1]
PACKAGE = Path(__file__).resolve().parents[2] / "credit_assets"
KILL_WAIT_SECONDS = 120
# A history large enough that writing its features takes long enough to be caught mid-write.
BIG_HISTORY = GeneratorConfig(seed=3, history_rows=120_000, months=1, rows_per_month=1_500)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def visible_artifacts(storage: StorageResource) -> dict[str, str]:
    """Every file a reader can see (temp files are hidden by their leading dot)."""
    return {
        str(p.relative_to(storage.store.local_root)): digest(p)
        for folder in ("tables", "artifacts")
        for p in sorted((storage.store.local_root / folder).rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def start_month(
    storage: StorageResource, month: str, selection: list[str], model_config: dict | None = None
) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "credit_assets_tests.support.run_month",
        str(storage.store.local_root),
        month,
        json.dumps(model_config or {}),
        *selection,
    ]
    return subprocess.Popen(command, cwd=PACKAGE.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def kill_when(process: subprocess.Popen, condition: Callable[[str | None], bool]) -> bool:
    """SIGKILL the process as soon as `condition` holds for a log line (or a poll); False if it ended first."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stderr], daemon=True).start()
    deadline = time.monotonic() + KILL_WAIT_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            line = lines.get(timeout=0.001)
        except queue.Empty:
            line = None
        if condition(line):
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
    process.kill()
    process.wait()
    return False


def temp_file_in(folder: Path) -> Callable[[str | None], bool]:
    return lambda _line: folder.exists() and any(p.name.endswith(".tmp") for p in os.scandir(folder))


@pytest.fixture(scope="module")
def big_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("big") / "landing"
    write_small_landing(folder, BIG_HISTORY)
    return folder


def test_kill_while_writing_a_parquet_partition_keeps_the_previous_version(tmp_path: Path, big_landing: Path) -> None:
    storage = storage_with(tmp_path, big_landing, [HISTORY])
    assert materialize_month(storage, HISTORY).success
    before = visible_artifacts(storage)
    features_path = storage.store.local_root.joinpath("tables", "features", f"{HISTORY}.parquet")
    frame = pd.read_parquet(features_path)

    caught = kill_when(start_month(storage, HISTORY, INGEST), temp_file_in(features_path.parent))

    assert caught, "the run ended before its features write could be interrupted"
    assert any(p.name.endswith(".tmp") for p in features_path.parent.iterdir())  # killed mid-write
    assert digest(features_path) == before[str(features_path.relative_to(storage.store.local_root))]
    pd.testing.assert_frame_equal(pd.read_parquet(features_path), frame)
    assert storage.store.table_months("features") == [HISTORY]
    assert materialize_month(storage, HISTORY).success
    assert not any(p.name.endswith(".tmp") for p in features_path.parent.iterdir())
    assert visible_artifacts(storage) == before  # same inputs, byte-identical outputs


@pytest.fixture(scope="module")
def scored_template(tmp_path_factory: pytest.TempPathFactory, small_landing: Path) -> Path:
    return scored_root(tmp_path_factory.mktemp("scored"), small_landing, MONTHS[:2], [FIRST])


def test_kill_while_training_keeps_the_previous_model_and_a_rerun_succeeds(
    tmp_path: Path, scored_template: Path
) -> None:
    storage = copy_storage(scored_template, tmp_path)
    before = visible_artifacts(storage)
    retune = {"retune": "always", "optuna_trials": 6}

    caught = kill_when(
        start_month(storage, FIRST, ["model"], retune),
        lambda line: line is not None and 'Started execution of step "model"' in line,
    )

    assert caught
    assert visible_artifacts(storage) == before
    result = materialize_month(storage, FIRST, ["model", "forecasts"], model_config=retune)
    assert result.success
    assert ModelRegistry(storage.store.blobs).champion(FIRST) is not None
    trials = study_trials(studies_url(storage.store), f"{STUDY_PREFIX}{FIRST}")
    assert trials["value"].notna().sum() >= 6  # the killed study was resumed, not corrupted


def test_rematerialising_a_month_gives_byte_identical_artifacts(tmp_path: Path, scored_template: Path) -> None:
    storage = copy_storage(scored_template, tmp_path)
    before = visible_artifacts(storage)
    assert materialize_month(storage, FIRST, [*INGEST, "model", "forecasts"]).success
    after = visible_artifacts(storage)
    changed = sorted(name for name in before if before[name] != after[name] and not name.endswith(".png"))
    assert changed == []


def test_nothing_in_the_package_unpickles() -> None:
    forbidden = {"pickle", "cPickle", "joblib", "cloudpickle", "dill", "shelve"}
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name.split(".")[0] for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module.split(".")[0]] if isinstance(node, ast.ImportFrom) and node.module else []
            offenders += [f"{path.name}:{node.lineno} imports {name}" for name in names if name in forbidden]
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in {"read_pickle", "to_pickle"}:
                offenders.append(f"{path.name}:{node.lineno} calls {node.func.attr}")
    assert offenders == []
