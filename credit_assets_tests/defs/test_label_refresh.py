"""A scored month's labels landing: the sensor only ingests it, and declarative automation refreshes its reports."""

import dataclasses
import os
import shutil
import time
from pathlib import Path

import dagster as dg

from credit_assets.core.months import landing_file_name
from credit_assets.core.store import FORECASTS_EXPORT
from credit_assets.definitions import defs
from credit_assets.defs.landing_sensor import SETTLE_SECONDS, landing_sensor
from credit_assets.keys import LABELS_TAG
from credit_assets_tests.support.materialise import (
    ASSETS,
    EVERY_ASSET,
    INGEST,
    SMALL,
    failure_message,
    materialize_month,
    storage_with,
    write_small_landing,
)

UNLABELLED = dataclasses.replace(SMALL, months=1, label_latest=False)  # the history, then 2020-10 without TARGET
HISTORY, MONTH = UNLABELLED.month_keys
REPORTS = {"forecast_performance", "model_comparison", "decision_economics", "model_documentation", "model_review"}


def land(source: Path, landing: Path) -> None:
    """Copy the month's file into the landing folder, settled (older than the sensor's settle time)."""
    target = landing / landing_file_name(MONTH)
    shutil.copy(source / landing_file_name(MONTH), target)
    past = time.time() - SETTLE_SECONDS - 5
    os.utime(target, (past, past))


def requested(result: dg.EvaluateAutomationConditionsResult) -> dict[str, set]:
    keys = {key for asset in ASSETS for key in asset.keys}
    return {
        key.to_user_string(): set(result.get_requested_partitions(key)) for key in keys if result.get_num_requested(key)
    }


def test_labels_landing_ingests_the_month_and_refreshes_its_reports(tmp_path: Path) -> None:
    unlabelled, labelled = tmp_path / "unlabelled" / "landing", tmp_path / "labelled" / "landing"
    write_small_landing(unlabelled, UNLABELLED)
    write_small_landing(labelled, dataclasses.replace(UNLABELLED, label_latest=True))
    storage = storage_with(tmp_path / "root", unlabelled, UNLABELLED.month_keys)
    with dg.instance_for_test() as instance:
        assert materialize_month(storage, HISTORY, INGEST, instance=instance).success
        scored = materialize_month(storage, MONTH, EVERY_ASSET, instance=instance)
        assert scored.success, failure_message(scored)
        issued = storage.store.read_export(FORECASTS_EXPORT, MONTH)
        quiet = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert quiet.total_requested == 0  # a month scored in one run leaves nothing to refresh

        land(labelled, storage.store.local_root / "landing")
        context = dg.build_sensor_context(instance=instance, resources={"storage": storage})
        [request] = landing_sensor(context).run_requests
        assert (request.partition_key, request.job_name, request.tags[LABELS_TAG]) == (MONTH, "ingest_month", "landed")
        ingested = materialize_month(storage, MONTH, [*INGEST, "data_profile"], instance=instance)
        assert ingested.success, failure_message(ingested)

        refresh = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=quiet.cursor)
        assert requested(refresh) == dict.fromkeys(REPORTS, {MONTH})
        refreshed = materialize_month(storage, MONTH, sorted(REPORTS), instance=instance)
        assert refreshed.success, failure_message(refreshed)

    performance = refreshed.asset_materializations_for_node("forecast_performance")[0].metadata
    assert performance["labelled"].value is True and 0.5 < performance["roc_auc"].value <= 1
    assert storage.store.read_export(FORECASTS_EXPORT, MONTH) == issued  # the forecasts stand as they were issued
