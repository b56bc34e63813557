"""Dagster's own retry and concurrency machinery: transient faults are retried, refusals are not; the instance
queues one run at a time and relaunches a run whose worker died."""

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from credit_assets.core.months import landing_file_name
from credit_assets.defs.storage import AssetRef, Context, StorageResource
from credit_assets_tests.support.bad_files import set_value
from credit_assets_tests.support.e2e import write_instance
from credit_assets_tests.support.materialise import MONTHS, failure_message, materialize_month, storage_with

HISTORY = MONTHS[0]


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
    set_value("NAME_CONTRACT_TYPE", 2, "Crypto loans")(storage.store.landing_file(landing_file_name(HISTORY)))
    result = materialize_month(storage, HISTORY)
    assert not result.success
    assert step_events(result, "STEP_FAILURE") == ["validated_applications"]
    assert step_events(result, "STEP_UP_FOR_RETRY") == []


def test_the_instance_runs_one_month_at_a_time_and_relaunches_a_dead_run_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))  # the project's dagster.yaml puts SQLite under it
    write_instance(tmp_path)
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1  # what the daemon reads
        assert instance.run_monitoring_enabled
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 1
        assert not instance.run_retries_retry_on_asset_or_op_failure
