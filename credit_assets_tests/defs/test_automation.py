"""Schedule evaluation at given dates and run notifications delivered to the log and to a real local webhook."""

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.defs_state.base import set_defs_state_storage
from dagster._core.test_utils import freeze_time  # the clock the freshness check reads

from credit_assets.core.months import landing_file_name
from credit_assets.defs.forecast_freshness import forecast_freshness_checks
from credit_assets.defs.monthly_scoring import monthly_scoring
from credit_assets.defs.notifier import NotifierResource
from credit_assets.defs.run_notifications import (
    run_failure_notifier,
    run_success_notifier,
)
from credit_assets.defs.storage import StorageResource
from credit_assets_tests.support.materialise import ASSETS, MONTHS, decision_log_of, materialize_month, storage_with

MONTH = MONTHS[1]  # 2020-10, closed on 2020-11-01


class Webhook:
    """A real HTTP server on 127.0.0.1 that records the JSON bodies posted to it."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


def schedule_at(
    storage: StorageResource, instance: dg.DagsterInstance, when: datetime
) -> dg.RunRequest | dg.SkipReason:
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=when, resources={"storage": storage}
    )
    return monthly_scoring(context)


def test_schedule_requests_the_month_that_just_closed(
    tmp_path: Path, small_landing: Path, instance: dg.DagsterInstance
) -> None:
    storage = storage_with(tmp_path, small_landing, [MONTH])
    request = schedule_at(storage, instance, datetime(2020, 11, 2, 6, tzinfo=UTC))
    assert isinstance(request, dg.RunRequest)
    assert request.partition_key == MONTH


def test_schedule_skips_a_month_whose_file_has_not_landed(
    tmp_path: Path, small_landing: Path, instance: dg.DagsterInstance
) -> None:
    storage = storage_with(tmp_path, small_landing, [MONTH])
    skip = schedule_at(storage, instance, datetime(2020, 12, 2, 6, tzinfo=UTC))
    assert isinstance(skip, dg.SkipReason)
    assert landing_file_name("2020-11") in skip.skip_message


def test_schedule_skips_a_month_already_materialised_from_the_same_file(
    tmp_path: Path, small_landing: Path, instance: dg.DagsterInstance
) -> None:
    storage = storage_with(tmp_path, small_landing, [MONTH])
    assert materialize_month(storage, MONTH, ["raw_applications"], instance=instance).success
    skip = schedule_at(storage, instance, datetime(2020, 11, 2, 6, tzinfo=UTC))
    assert isinstance(skip, dg.SkipReason) and "already materialised" in skip.skip_message


def _status_context(
    instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult, event_type: str, notifier: NotifierResource
) -> dg.RunStatusSensorContext:
    event = next(e for e in result.all_events if e.event_type_value == event_type)
    return dg.build_run_status_sensor_context(
        sensor_name="notifier",
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(result.run_id),
        resources={"notifier": notifier},
    )


def test_failed_run_is_reported_to_the_log_and_the_webhook(
    tmp_path: Path, small_landing: Path, instance: dg.DagsterInstance, webhook: Webhook
) -> None:
    storage = storage_with(tmp_path, small_landing, [MONTH])
    (storage.store.local_root / "landing" / landing_file_name(MONTH)).write_text("")
    result = materialize_month(storage, MONTH, instance=instance)
    assert not result.success
    notifier = NotifierResource(storage=storage, webhook_url=webhook.url)
    with _status_context(instance, result, "PIPELINE_FAILURE", notifier) as context:
        run_failure_notifier(context.for_run_failure())

    logged = [
        json.loads(line)
        for line in (notifier.storage.store.local_root / "notifications" / "notifications.jsonl")
        .read_text()
        .splitlines()
    ]
    assert len(logged) == 1
    assert logged[0]["status"] == "failed" and logged[0]["partition"] == MONTH
    assert logged[0]["failed_steps"] == ["raw_applications"]
    assert "empty" in logged[0]["error"] and landing_file_name(MONTH) in logged[0]["error"]
    assert len(webhook.received) == 1
    assert MONTH in webhook.received[0]["text"] and "failed" in webhook.received[0]["text"]
    assert webhook.received[0]["credit_assets"]["run_id"] == result.run_id


def test_successful_run_is_reported(
    tmp_path: Path, small_landing: Path, instance: dg.DagsterInstance, webhook: Webhook
) -> None:
    storage = storage_with(tmp_path, small_landing, [MONTH])
    result = materialize_month(storage, MONTH, ["raw_applications"], instance=instance)
    assert result.success
    notifier = NotifierResource(storage=storage, webhook_url=webhook.url)
    with _status_context(instance, result, "PIPELINE_SUCCESS", notifier) as context:
        run_success_notifier(context)
    logged = json.loads((notifier.storage.store.local_root / "notifications" / "notifications.jsonl").read_text())
    assert (logged["status"], logged["partition"], logged["run_id"]) == ("succeeded", MONTH, result.run_id)
    assert "succeeded" in webhook.received[0]["text"]


def test_without_a_webhook_only_the_log_is_written(
    tmp_path: Path, small_landing: Path, instance: dg.DagsterInstance
) -> None:
    storage = storage_with(tmp_path, small_landing, [MONTH])
    result = materialize_month(storage, MONTH, ["raw_applications"], instance=instance)
    notifier = NotifierResource(storage=storage)
    with _status_context(instance, result, "PIPELINE_SUCCESS", notifier) as context:
        run_success_notifier(context)
    assert (
        len((notifier.storage.store.local_root / "notifications" / "notifications.jsonl").read_text().splitlines()) == 1
    )


def _run_freshness(instance: dg.DagsterInstance, storage: StorageResource, at: datetime) -> dg.AssetCheckEvaluation:
    # no definitions-state storage: under three test workers one of a disposed instance was found here, and the
    # freshness check reads none
    with freeze_time(at), set_defs_state_storage(None):
        result = dg.materialize(
            [*ASSETS, *forecast_freshness_checks],
            selection=dg.AssetSelection.checks(*forecast_freshness_checks),
            instance=instance,
            resources={"storage": storage, "decision_log": decision_log_of(storage)},
        )
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def test_freshness_flags_last_months_forecasts_missing_past_the_deadline(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    storage = StorageResource(root=str(tmp_path))
    after_deadline = datetime(2020, 12, 6, tzinfo=UTC)  # 2020-11's deadline: 2020-12-05 12:00
    missing = _run_freshness(instance, storage, after_deadline)
    assert not missing.passed and missing.severity == dg.AssetCheckSeverity.WARN
    instance.report_runless_asset_event(dg.AssetMaterialization("forecasts", partition="2020-11"))
    assert _run_freshness(instance, storage, after_deadline).passed
