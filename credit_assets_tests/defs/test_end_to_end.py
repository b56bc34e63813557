"""End to end on the real processes: `dagster dev` (webserver + daemon), landing sensor and a backfill, over GraphQL."""

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from credit_assets.core.months import landing_file_name
from credit_assets.core.store import FORECASTS_EXPORT, NOTICES_EXPORT, ArtifactStore
from credit_assets.keys import LANDING_FILE_TAG as LANDING_TAG
from credit_assets.keys import PARTITION_TAG
from credit_assets.synthetic.generate import GeneratorConfig, generate_landing_files
from credit_assets_tests.support.e2e import (
    ROOT,
    DagsterDev,
    dagster_dev,
    listening_hosts,
    wait_until,
)
from credit_assets_tests.support.files import read_export

LANDED = GeneratorConfig(seed=5, history_rows=3_000, months=2, rows_per_month=1_000)
HISTORY, *SCORED = LANDED.month_keys  # 2020-09 is only ingested; 2020-10 and 2020-11 are scored
PROFILES = ("postgres", "celery")  # deploy/ folders
SCORE_ASSETS = ["raw_applications", "validated_applications", "features", "model", "forecasts"]
FINISHED_RUN = {"SUCCESS", "FAILURE", "CANCELED"}
UNFINISHED_BACKFILL = {"REQUESTED", "CANCELING", "FAILING"}
# Bounds for a loaded 2-core machine: the sensor ticks every 30 s, each month is one run process.
LANDING_RUNS_SECONDS = 15 * 60
BACKFILL_SECONDS = 10 * 60


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DagsterDev]:
    """`dagster dev` on a fresh SQLite instance and an empty storage root. The PostgreSQL instance runs the same
    sensor, queue and runs in test_celery.py, from deploy/celery/dagster.yaml, whose storage block is
    deploy/postgres/dagster.yaml's (test_the_postgres_profile_stores_as_the_tested_celery_profile)."""
    with dagster_dev(tmp_path / "dagster_home", tmp_path / "data") as running:
        yield running


def test_the_postgres_profile_stores_as_the_tested_celery_profile() -> None:
    storages = [yaml.safe_load((ROOT / "deploy" / profile / "dagster.yaml").read_text()) for profile in PROFILES]
    assert storages[0]["storage"] == storages[1]["storage"] and "postgres" in storages[0]["storage"]


def landing_runs(server: DagsterDev) -> list[dict[str, Any]] | None:
    """The sensor's runs once there is one per landed month and all have finished, else None."""
    runs = [run for run in server.runs() if LANDING_TAG in run["tags"]]
    finished = len(runs) == len(LANDED.month_keys) and all(run["status"] in FINISHED_RUN for run in runs)
    return runs if finished else None


def latest_materialisations(server: DagsterDev, asset: str) -> dict[str, dict[str, Any]]:
    """The newest materialisation event of each scored month."""
    latest: dict[str, dict[str, Any]] = {}
    for event in server.materialisations(asset, SCORED):
        if event["partition"] not in latest or int(event["timestamp"]) > int(latest[event["partition"]]["timestamp"]):
            latest[event["partition"]] = event
    return latest


def passed_checks(server: DagsterDev, asset: str, run_ids: set[str]) -> tuple[set[str], set[tuple[str, str]]]:
    """The asset's check names and the (run, check) pairs of those runs whose check executed and passed."""
    names = set(server.check_names(asset))
    passed = {
        (execution["runId"], name)
        for name in names
        for execution in server.check_executions(asset, name)
        if execution["runId"] in run_ids and execution["status"] == "SUCCEEDED" and execution["evaluation"]["success"]
    }
    return names, passed


def finished_backfill(server: DagsterDev, backfill_id: str) -> str | None:
    """The backfill's final status, or None while it is still going."""
    status = server.backfill_status(backfill_id)
    return None if status in UNFINISHED_BACKFILL else status


def test_landed_months_are_scored_by_the_sensor_and_a_backfill_rematerialises_them(server: DagsterDev) -> None:
    """Landed files run through sensor, checks and model to forecasts; a GraphQL backfill redoes two months."""
    assert listening_hosts(server.port) == {"127.0.0.1"}  # the UI has no authentication: loopback only
    generate_landing_files(LANDED, server.storage_root / "landing", server.storage_root / "generator_truth")

    runs = wait_until(lambda: landing_runs(server), LANDING_RUNS_SECONDS, "the landing sensor's runs", interval=3)
    by_month = {run["tags"][PARTITION_TAG]: run for run in runs}
    assert {month: (run["jobName"], run["status"], run["tags"][LANDING_TAG]) for month, run in by_month.items()} == {
        month: ("ingest_month" if month == HISTORY else "score_month", "SUCCESS", landing_file_name(month))
        for month in LANDED.month_keys
    }
    in_month_order = [by_month[month] for month in LANDED.month_keys]  # one run at a time, oldest month first
    assert all(earlier["endTime"] <= later["startTime"] for earlier, later in itertools.pairwise(in_month_order))
    run_ids = {run["runId"] for run in runs}
    names, passed = passed_checks(server, "validated_applications", run_ids)
    assert names and passed == {(run_id, name) for run_id in run_ids for name in names}
    stored = ArtifactStore.at(server.storage_root)
    assert len(read_export(stored, FORECASTS_EXPORT, SCORED[0])) == LANDED.rows_per_month
    for month in SCORED:  # every scored month's adverse-action notices: one row per declined application, none live
        forecasts = read_export(stored, FORECASTS_EXPORT, month)
        notices = read_export(stored, NOTICES_EXPORT, month)
        assert len(notices) == (forecasts["decision"] == "decline").sum() > 0

    before = latest_materialisations(server, "forecasts")
    backfill_id = server.launch_backfill(SCORE_ASSETS, SCORED[0], SCORED[-1])
    status = wait_until(lambda: finished_backfill(server, backfill_id), BACKFILL_SECONDS, "the backfill", interval=3)
    assert status == "COMPLETED_SUCCESS"
    backfill_runs = {run["runId"] for run in server.runs() if run["tags"].get("dagster/backfill") == backfill_id}
    for asset in SCORE_ASSETS:  # every partition of every backfilled asset was materialised again by the backfill
        after = latest_materialisations(server, asset)
        assert sorted(after) == SCORED and {event["runId"] for event in after.values()} <= backfill_runs, asset
    after = latest_materialisations(server, "forecasts")
    for month in SCORED:
        assert int(after[month]["timestamp"]) > int(before[month]["timestamp"])
        assert len(read_export(stored, FORECASTS_EXPORT, month)) == LANDED.rows_per_month
