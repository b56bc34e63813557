"""Shared small-data helpers: synthetic, contract-shaped feature months written to a temporary storage root."""

from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import filelock
import numpy as np
import pandas as pd
import pytest
from dagster._core.storage.defs_state.base import set_defs_state_storage

from credit_assets.core.contract import schema
from credit_assets.core.features import build_features
from credit_assets.defs.storage import StorageResource
from credit_assets_tests.support.materialise import MONTHS, SCORED_MONTH, scored_root, write_small_landing
from credit_assets_tests.support.object_store import environment, s3_server

MAX_MISSING_RATE = 0.5  # keep every column observed often enough on a few hundred rows
# The longest test files, longest first. pytest-xdist hands whole files to its workers in collection order (with
# --no-loadscope-reorder; by default it starts with the files that hold the most tests): a long file that starts
# last is the suite's long pole, so these start first and the short files fill the workers around them.
LONGEST_FILES = [
    "defs/test_faults.py",
    "defs/test_kill_recovery.py",
    "defs/test_end_to_end.py",
    "portal/test_portal_browser.py",
    "defs/test_celery.py",
    "defs/test_lineage.py",
    "defs/test_crash_safety.py",
    "defs/test_browser.py",
    "defs/test_model_lineage.py",
    "defs/test_fairness.py",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the longest files first (the sort is stable: every file keeps its own order)."""
    tests = Path(__file__).parent

    def rank(item: pytest.Item) -> int:
        name = item.path.relative_to(tests).as_posix()
        return LONGEST_FILES.index(name) if name in LONGEST_FILES else len(LONGEST_FILES)

    items.sort(key=rank)


def _numeric(col: schema.Column, rows: int, rng: np.random.Generator) -> np.ndarray:
    low = max(col.low, col.observed_min if col.observed_min is not None else col.low)
    high = min(col.high, col.observed_max if col.observed_max is not None else col.high)
    values = rng.uniform(low, high, rows)
    return np.round(values) if col.dtype == "int64" else values


def contract_frame(rows: int, seed: int, first_id: int = 100_000, labelled: bool = True) -> pd.DataFrame:
    """A validated-like month: all 122 contract columns, text as categoricals, TARGET driven by EXT_SOURCE_2/3."""
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {}
    for col in schema.columns():
        if col.is_text:
            data[col.name] = pd.Categorical(rng.choice(col.levels, rows, p=col.level_shares), categories=col.levels)
        else:
            data[col.name] = _numeric(col, rows, rng)
    frame = pd.DataFrame(data)
    frame[schema.ID_COLUMN] = np.arange(first_id, first_id + rows, dtype="int64")
    risk = 2.0 - 4.0 * frame["EXT_SOURCE_2"] - 4.0 * frame["EXT_SOURCE_3"]
    target = (rng.uniform(size=rows) < 1 / (1 + np.exp(-risk))).astype("int64")
    for col in schema.columns():
        if col.nullable:
            frame.loc[rng.uniform(size=rows) < min(col.missing_rate, MAX_MISSING_RATE), col.name] = np.nan
    frame[schema.TARGET_COLUMN] = target if labelled else np.nan
    return frame[schema.column_names()]


@pytest.fixture
def feature_months(tmp_path: Path) -> Callable[[dict[str, int]], StorageResource]:
    """Write labelled synthetic feature months ({month: rows}) under tmp_path and return their storage."""

    def write(months: dict[str, int]) -> StorageResource:
        storage = StorageResource(root=str(tmp_path))
        for index, (month, rows) in enumerate(sorted(months.items())):
            frame = contract_frame(rows, seed=index, first_id=100_000 + 1_000_000 * index)
            storage.store.write_table("features", month, build_features(frame))
        return storage

    return write


@pytest.fixture(scope="session")
def small_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small generated months (helpers.SMALL), written once per session; tests copy what they need."""
    folder = tmp_path_factory.mktemp("generated") / "landing"
    write_small_landing(folder)
    return folder


@pytest.fixture(scope="session")
def scored_month_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A storage root with the history and the first month ingested and that month scored (SCORED_MONTH), built once
    for the whole session and shared by the test workers (the first to ask builds it under a lock); copy it with
    `copy_storage` before changing anything."""
    shared = tmp_path_factory.getbasetemp().parent  # the same folder for every xdist worker of this session
    root = shared / "scored_month_root"
    with filelock.FileLock(shared / "scored_month_root.lock"):
        if not (root / "done").exists():
            landing = shared / "scored_month_source" / "landing"
            write_small_landing(landing)
            scored_root(root / "root", landing, MONTHS[:2], [SCORED_MONTH])
            (root / "done").touch()
    return root / "root"


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    """A real Dagster instance (SQLite in a temp folder) for one test."""
    with dg.instance_for_test() as instance:
        yield instance


def _without_stale_state_storage() -> Iterator[None]:
    """Run without the definitions-state storage of an instance an earlier test disposed of.

    Dagster keeps it in a context variable that a disposed test instance can leave behind; loading or
    materialising definitions afterwards would then open a deleted SQLite file.
    """
    with set_defs_state_storage(None):
        yield


@pytest.fixture(autouse=True)
def no_stale_dagster_state_storage() -> Iterator[None]:
    yield from _without_stale_state_storage()


@pytest.fixture(scope="module", autouse=True)
def no_stale_dagster_state_storage_for_the_module() -> Iterator[None]:
    """The same for module-scoped fixtures, which run before any test-scoped one."""
    yield from _without_stale_state_storage()


@pytest.fixture(scope="session")
def s3_env() -> Iterator[dict[str, str]]:
    """A moto S3 server for the session (one per test worker), its endpoint and keys set in this process."""
    with s3_server() as env, environment(env):
        yield env
