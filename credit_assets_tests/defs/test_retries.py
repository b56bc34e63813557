"""Dagster's own retry and concurrency machinery: transient faults are retried, refusals are not; the real daemon's
run queue lets one month's run go at a time, oldest first; the instance is set to relaunch a run whose worker died."""

import itertools
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from credit_assets.core.months import landing_file_name
from credit_assets.defs.storage import AssetRef, Context, StorageResource
from credit_assets.keys import PARTITION_TAG
from credit_assets.synthetic.generate import GeneratorConfig
from credit_assets_tests.support.bad_files import set_value
from credit_assets_tests.support.daemon import all_finished, daemon, landed_instance, run_times
from credit_assets_tests.support.e2e import wait_until, write_instance
from credit_assets_tests.support.materialise import MONTHS, failure_message, materialize_month, storage_with

HISTORY = MONTHS[0]
# Small months: what is watched is the run queue, not the model (`test_faults.py` lands 24 of them).
LANDED = GeneratorConfig(seed=23, history_rows=2_000, months=3, rows_per_month=120)
LANDED_MONTHS = LANDED.month_keys  # the history, then three scored months
RUNS_SECONDS = 20 * 60  # a deadlock guard: four run processes in turn on a loaded 2-core machine


class DiskHiccup(StorageResource):
    """The storage whose first read of the month's validated rows for `features` raises an I/O error."""

    marker: str  # written at the fault, so the fault happens once per test whatever process reads

    def read_table(
        self, context: Context, asset: AssetRef, month: str, columns: list[str] | None = None
    ) -> pd.DataFrame:
        if context.asset_key == dg.AssetKey("features") and not Path(self.marker).exists():
            Path(self.marker).write_text("failed once")
            raise OSError("Input/output error (a transient storage fault)")
        return super().read_table(context, asset, month, columns)


def step_events(result: dg.ExecuteInProcessResult, event_type: str) -> list[str]:
    return [event.step_key for event in result.all_events if event.event_type_value == event_type]


def test_a_step_that_fails_once_on_an_io_error_succeeds_on_its_retry(tmp_path: Path, small_landing: Path) -> None:
    landed = storage_with(tmp_path / "root", small_landing, [HISTORY])
    storage = DiskHiccup(root=landed.root, marker=str(tmp_path / "fault"))
    result = materialize_month(storage, HISTORY)
    assert result.success, failure_message(result)
    assert step_events(result, "STEP_UP_FOR_RETRY") == ["features"]
    assert step_events(result, "STEP_RESTARTED") == ["features"]
    assert len(storage.store.read_table("features", HISTORY)) > 0


def test_a_contract_violation_fails_at_once_without_a_retry(tmp_path: Path, small_landing: Path) -> None:
    storage = storage_with(tmp_path / "root", small_landing, [HISTORY])
    set_value("NAME_CONTRACT_TYPE", 2, "Crypto loans")(
        storage.store.local_root.joinpath("landing", landing_file_name(HISTORY))
    )
    result = materialize_month(storage, HISTORY)
    assert not result.success
    assert step_events(result, "STEP_FAILURE") == ["validated_applications"]
    assert step_events(result, "STEP_UP_FOR_RETRY") == []


def test_months_landed_together_run_one_at_a_time_in_month_order(tmp_path: Path) -> None:
    """The real daemon's sensor requests every landed month in one tick; the queue lets one run go at a time."""
    home, storage_root = landed_instance(tmp_path, LANDED)
    with dg.DagsterInstance.from_config(str(home)) as instance, daemon(home, storage_root):
        runs = wait_until(lambda: all_finished(instance, len(LANDED_MONTHS)), RUNS_SECONDS, "the landed months' runs")
        assert [(run.tags[PARTITION_TAG], run.status) for run in runs] == [
            (month, dg.DagsterRunStatus.SUCCESS) for month in LANDED_MONTHS
        ]
        queued = [instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_ENQUEUED)[0].timestamp for run in runs]
        timed = [run_times(instance, run) for run in runs]
    # requested together: every run was queued before the first one finished, so the queue had a choice to make
    assert max(queued) < timed[0][1], "the months were not queued together"
    # each month left the queue only after the one before it had ended: never two at once, oldest first
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(timed)), f"months overlapped: {timed}"


def test_the_instance_is_set_to_relaunch_a_dead_run_once_and_never_a_failed_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The settings the daemon reads; `test_kill_recovery.py` kills a run worker and watches the relaunch happen."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))  # the project's dagster.yaml puts SQLite under it
    write_instance(tmp_path)
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.run_monitoring_enabled
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 1
        assert not instance.run_retries_retry_on_asset_or_op_failure
