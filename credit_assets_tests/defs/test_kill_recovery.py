"""`dagster-daemon` and a month's run process killed with SIGKILL mid-month, the daemon restarted.

The interrupted run is marked failed and retried once by `run_retries`, nothing stored is torn, the month
completes once with the same forecasts, bit for bit. Real processes on a fresh SQLite instance, as in `test_faults.py`.
"""

import os
import signal
from pathlib import Path

import dagster as dg
import pandas as pd

from credit_assets.core.modeling import change_control
from credit_assets.core.modeling.registry import ModelRegistry
from credit_assets.core.months import landing_file_name
from credit_assets.core.store import ArtifactStore
from credit_assets.keys import PARTITION_TAG
from credit_assets.synthetic.generate import GeneratorConfig
from credit_assets_tests.support.daemon import (
    FINISHED,
    all_finished,
    daemon,
    land,
    landed_instance,
    month_runs,
    relanded,
    retry_of,
    sorted_export,
    sorted_forecasts,
    step_started,
    worker_pid,
)
from credit_assets_tests.support.e2e import wait_until

LANDED = GeneratorConfig(seed=23, history_rows=2_000, months=2, rows_per_month=120)
MONTHS = LANDED.month_keys  # the history, then two scored months
CRASHED = MONTHS[-1]  # landed again and killed mid-run: no later month depends on it
RUN_SECONDS = 10 * 60  # deadlock guards for one run process on a loaded 2-core machine


def test_a_killed_daemon_and_run_are_recovered_and_the_month_completes_once(tmp_path: Path) -> None:
    home, storage_root = landed_instance(tmp_path, LANDED)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        with daemon(home, storage_root) as first_daemon:
            runs = wait_until(
                lambda: all_finished(instance, len(MONTHS)), len(MONTHS) * RUN_SECONDS, "the landed months' runs"
            )
            assert [run.status for run in runs] == [dg.DagsterRunStatus.SUCCESS] * len(MONTHS)
            before, before_export = sorted_forecasts(storage_root, CRASHED), sorted_export(storage_root, CRASHED)

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
        assert retry.tags[PARTITION_TAG] == CRASHED and retry.tags["dagster/retry_number"] == "1"
        assert [run.run_id for run in month_runs(instance)[len(MONTHS) :]] == [crashed.run_id, retry.run_id]
        forecasts = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("forecasts"), asset_partitions=[CRASHED]), limit=10
        ).records
        assert [record.run_id for record in forecasts] == [retry.run_id, runs[-1].run_id]  # newest first

    # nothing torn: no temp file left, every table readable, the promotion log's chain intact, and the same
    # forecasts to the bit: the retry trains on the same earlier months with a fixed seed and deterministic LightGBM,
    # and scores every application on its own, so only the row order follows the relanded (reversed) file
    assert not list(storage_root.rglob(".*.tmp"))
    for table in (storage_root / "tables").rglob("*.parquet"):
        pd.read_parquet(table)
    registry = ModelRegistry(ArtifactStore.at(storage_root).blobs)
    for card in registry.cards():
        registry.verify(card.version)  # every model's files match the hashes written with them
    # reading checks the log's hash chain; the months' monitoring also records its triggers there
    decisions = [entry for entry in registry.promotions() if change_control.kind(entry) == change_control.MONTH]
    assert [entry["month"] for entry in decisions[: len(MONTHS) - 1]] == MONTHS[1:]
    assert {entry["month"] for entry in decisions[len(MONTHS) - 1 :]} == {CRASHED}  # killed before or after deciding
    # the month's decision is the retry's, or the killed run's when its (short, kept-champion) model step had
    # finished before the kill and the retry re-executed only the failed steps
    assert decisions[-1]["trigger"]["run_id"] in (crashed.run_id, retry.run_id)
    pd.testing.assert_frame_equal(sorted_forecasts(storage_root, CRASHED), before, check_exact=True)
    assert sorted_export(storage_root, CRASHED) == before_export
