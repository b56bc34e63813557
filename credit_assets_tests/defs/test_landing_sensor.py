"""landing_sensor evaluated with real sensor contexts on a real (temporary) Dagster instance."""

import os
import time
from pathlib import Path

import dagster as dg
import pytest

from credit_assets.core.months import FIRST_MONTH, landing_file_name
from credit_assets.defs.landing_sensor import SETTLE_SECONDS, landing_sensor
from credit_assets.defs.storage import StorageResource
from credit_assets.keys import PRIORITY_TAG
from credit_assets_tests.support.materialise import MONTHS, materialize_month, storage_with

MONTH = MONTHS[1]


def settle(path: Path) -> None:
    """Make a landed file look finished: last modified longer ago than the settle time."""
    past = time.time() - SETTLE_SECONDS - 5
    os.utime(path, (past, past))


def evaluate(storage: StorageResource, instance: dg.DagsterInstance, cursor: str | None = None) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"storage": storage})
    return landing_sensor(context)


def test_new_file_requests_one_run_of_its_month_and_same_file_again_none(
    tmp_path: Path, small_landing: Path, instance: dg.DagsterInstance
) -> None:
    storage = storage_with(tmp_path, small_landing, [MONTH])
    settle(storage.store.local_root / "landing" / landing_file_name(MONTH))
    first = evaluate(storage, instance)
    assert [(r.partition_key, r.job_name) for r in first.run_requests] == [(MONTH, "score_month")]
    assert first.run_requests[0].run_key.startswith(landing_file_name(MONTH))
    again = evaluate(storage, instance, first.cursor)
    assert again.run_requests == []


def test_history_month_is_only_ingested(tmp_path: Path, small_landing: Path, instance: dg.DagsterInstance) -> None:
    storage = storage_with(tmp_path, small_landing, [FIRST_MONTH])
    settle(storage.store.local_root / "landing" / landing_file_name(FIRST_MONTH))
    assert [r.job_name for r in evaluate(storage, instance).run_requests] == ["ingest_month"]


@pytest.fixture
def seen_once(
    tmp_path: Path, small_landing: Path, instance: dg.DagsterInstance
) -> tuple[StorageResource, Path, dg.SensorResult]:
    """MONTH landed and settled, and the sensor's first evaluation of it."""
    storage = storage_with(tmp_path, small_landing, [MONTH])
    path = storage.store.local_root / "landing" / landing_file_name(MONTH)
    settle(path)
    return storage, path, evaluate(storage, instance)


def test_changed_file_requests_a_new_run_with_a_new_run_key(seen_once: tuple, instance: dg.DagsterInstance) -> None:
    storage, path, first = seen_once
    path.write_bytes(path.read_bytes().replace(b"Cash loans", b"Revolving loans", 1))
    settle(path)
    changed = evaluate(storage, instance, first.cursor)
    assert len(changed.run_requests) == 1
    assert changed.run_requests[0].run_key != first.run_requests[0].run_key


def test_touched_but_identical_file_requests_nothing(seen_once: tuple, instance: dg.DagsterInstance) -> None:
    storage, path, first = seen_once
    os.utime(path, (time.time() - SETTLE_SECONDS - 1, time.time() - SETTLE_SECONDS - 1))
    assert evaluate(storage, instance, first.cursor).run_requests == []


@pytest.mark.parametrize(
    "name", ["applications_2020-13.csv", "apps_2020-10.csv", "applications_2020-10.csv.part", "notes.txt"]
)
def test_badly_named_file_is_skipped_without_a_crash(name: str, tmp_path: Path, instance: dg.DagsterInstance) -> None:
    storage = StorageResource(root=str(tmp_path))
    (storage.store.local_root / "landing").mkdir(parents=True)
    (storage.store.local_root / "landing" / name).write_text("whatever")
    settle(storage.store.local_root / "landing" / name)
    result = evaluate(storage, instance)
    assert result.run_requests == []
    assert name in result.cursor  # remembered, so the warning is logged once


def test_file_still_being_written_waits_until_it_settles(
    tmp_path: Path, small_landing: Path, instance: dg.DagsterInstance
) -> None:
    storage = storage_with(tmp_path, small_landing, [MONTH])
    path = storage.store.local_root / "landing" / landing_file_name(MONTH)
    os.utime(path, None)  # modified just now
    waiting = evaluate(storage, instance)
    assert waiting.run_requests == []
    settle(path)
    assert len(evaluate(storage, instance, waiting.cursor).run_requests) == 1


def test_month_already_materialised_from_this_file_requests_nothing(
    tmp_path: Path, small_landing: Path, instance: dg.DagsterInstance
) -> None:
    storage = storage_with(tmp_path, small_landing, [MONTH])
    settle(storage.store.local_root / "landing" / landing_file_name(MONTH))
    assert materialize_month(storage, MONTH, ["raw_applications"], instance=instance).success
    assert evaluate(storage, instance).run_requests == []


def test_months_landed_together_are_queued_oldest_first(
    tmp_path: Path, small_landing: Path, instance: dg.DagsterInstance
) -> None:
    storage = storage_with(tmp_path, small_landing, MONTHS)
    for month in MONTHS:
        settle(storage.store.local_root / "landing" / landing_file_name(month))
    requests = evaluate(storage, instance).run_requests
    assert [r.partition_key for r in requests] == MONTHS
    priorities = [int(r.tags[PRIORITY_TAG]) for r in requests]  # Dagster's queue starts the highest first
    assert priorities == sorted(priorities, reverse=True) and len(set(priorities)) == len(MONTHS)
