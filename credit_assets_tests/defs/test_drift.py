"""The drift asset on small generated months: its checks on a month drifted on EXT_SOURCE_3 and the same month clean."""

import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from credit_assets.core.contract import schema
from credit_assets.core.modeling.registry import ModelRegistry
from credit_assets.core.modeling.settings import ModelSettings
from credit_assets.core.modeling.training import frame_hash, training_data
from credit_assets.core.monitoring.drift import model_reference
from credit_assets.core.months import landing_file_name
from credit_assets.defs.assets.drift import RESULT_FILE
from credit_assets.defs.storage import StorageResource
from credit_assets.synthetic.generate import GeneratorConfig
from credit_assets_tests.support.files import read_json
from credit_assets_tests.support.materialise import (
    INGEST,
    copy_storage,
    failure_message,
    materialize_month,
    scored_root,
    write_small_landing,
)

# History and one month keep the file under a minute: the GX suite takes seconds per ingested month.
CLEAN = GeneratorConfig(seed=11, history_rows=4_000, months=1, rows_per_month=1_500)
HISTORY, MONTH = CLEAN.month_keys
ASSET = "drift"
DRIFTED = replace(CLEAN, drift_month=MONTH, drift_columns=("EXT_SOURCE_3",), drift_strength=1.0)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The clean and the drifted generated files: the same seed and sizes, only MONTH differs."""
    folders = {}
    for name, config in (("clean", CLEAN), ("drifted", DRIFTED)):
        folders[name] = tmp_path_factory.mktemp(name) / "landing"
        write_small_landing(folders[name], config)
    return folders


@pytest.fixture(scope="module")
def scored_template(tmp_path_factory: pytest.TempPathFactory, landing: dict[str, Path]) -> Path:
    """The clean months ingested and MONTH scored (its model trains and validates on the history)."""
    return scored_root(
        tmp_path_factory.mktemp("scored"), landing["clean"], CLEAN.month_keys, [MONTH], {"num_threads": 1}
    )


@pytest.fixture
def scored(tmp_path: Path, scored_template: Path) -> StorageResource:
    return copy_storage(scored_template, tmp_path)


def materialize_drift(storage: StorageResource, config: dict[str, Any] | None = None) -> dg.ExecuteInProcessResult:
    """Materialise drift and its checks for MONTH with the real Dagster machinery."""
    return materialize_month(storage, MONTH, [ASSET], op_configs={ASSET: config or {}})


def evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def stored(storage: StorageResource) -> dict[str, Any]:
    return read_json(storage.store.local_root.joinpath("artifacts", ASSET, MONTH) / RESULT_FILE)


def feature_row(result: dict[str, Any], name: str) -> dict[str, Any]:
    return next(row for row in result["features"] if row["feature"] == name)


def test_clean_month_passes_and_records_every_figure(scored: StorageResource) -> None:
    result = materialize_drift(scored)
    assert result.success, failure_message(result)
    checks = evaluations(result)
    assert checks["important_features_stable"].passed and checks["prediction_distribution_stable"].passed
    figures = stored(scored)
    card = ModelRegistry(scored.store.blobs).champion(MONTH).card
    assert figures["thresholds"] == {"warn_psi": 0.1, "error_psi": 0.25}
    assert figures["reference_months"] == [HISTORY] and figures["validation_slice_matches_card"]
    assert figures["top_features"] == [item["feature"] for item in card.importance[:10]]
    assert "EXT_SOURCE_3" in figures["top_features"]  # else the drift test below would judge nothing
    assert [row["feature"] for row in figures["features"]] == sorted(
        card.features, key=lambda n: (-feature_row(figures, n)["psi"], n)
    )
    assert feature_row(figures, "EXT_SOURCE_3")["psi"] < 0.1
    assert 0 < figures["probability_psi"] < 0.1
    assert figures["label_rate"] == pytest.approx(
        scored.store.read_table("features", MONTH)[schema.TARGET_COLUMN].mean()
    )
    assert figures["reference_label_rate"] == pytest.approx(
        scored.store.read_table("features", HISTORY)[schema.TARGET_COLUMN].mean()
    )
    metadata = result.asset_materializations_for_node(ASSET)[0].metadata
    assert len(metadata["features"].records) == len(card.features)
    assert metadata["probability_psi"].value == round(figures["probability_psi"], 4)  # the UI shows PSI to 4 decimals
    assert (
        (scored.store.local_root.joinpath("artifacts", ASSET, MONTH) / "psi.png").read_bytes().startswith(PNG_SIGNATURE)
    )


def test_drift_on_ext_source_3_fails_the_check_where_the_clean_month_passed(
    scored: StorageResource, landing: dict[str, Path]
) -> None:
    clean = materialize_drift(scored)
    assert evaluations(clean)["important_features_stable"].passed
    clean_psi, clean_probability_psi = (
        feature_row(stored(scored), "EXT_SOURCE_3")["psi"],
        stored(scored)["probability_psi"],
    )
    shutil.copy(
        landing["drifted"] / landing_file_name(MONTH), scored.store.local_root / "landing" / landing_file_name(MONTH)
    )
    assert materialize_month(scored, MONTH, [*INGEST, "forecasts"]).success
    drifted = materialize_drift(scored)
    assert drifted.success, failure_message(drifted)
    check = evaluations(drifted)["important_features_stable"]
    drifted_psi = feature_row(stored(scored), "EXT_SOURCE_3")["psi"]
    assert clean_psi < 0.1 < 0.25 < drifted_psi
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert f"EXT_SOURCE_3 PSI {drifted_psi:.3f} > error limit 0.25" in check.description
    assert stored(scored)["probability_psi"] > clean_probability_psi


def test_thresholds_come_from_the_asset_config(scored: StorageResource) -> None:
    result = materialize_drift(scored, {"warn_psi": 1e-9, "error_psi": 50.0, "top_features": 3})
    assert result.success, failure_message(result)
    figures = stored(scored)
    assert figures["thresholds"] == {"warn_psi": 1e-9, "error_psi": 50.0}
    assert len(figures["top_features"]) == 3
    for check in evaluations(result).values():
        assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
        assert "warn limit 1e-09" in check.description
    assert evaluations(result)["important_features_stable"].description.count("PSI") == 3


def test_unlabelled_month_has_a_null_label_rate(scored: StorageResource) -> None:
    frame = scored.store.read_table("features", MONTH)
    frame[schema.TARGET_COLUMN] = np.float32(np.nan)  # what build_features gives a month landed without TARGET
    scored.store.write_table("features", MONTH, frame)
    result = materialize_drift(scored)
    assert result.success, failure_message(result)
    figures = stored(scored)
    assert figures["label_rate"] is None and figures["reference_label_rate"] > 0
    assert set(evaluations(result)) == {"important_features_stable", "prediction_distribution_stable"}


def test_one_row_month_and_all_missing_features_do_not_crash(scored: StorageResource) -> None:
    month = scored.store.read_table("features", MONTH).head(1).assign(EXT_SOURCE_1=np.float32(np.nan))
    scored.store.write_table("features", MONTH, month)
    scored.store.write_table("forecasts", MONTH, scored.store.read_table("forecasts", MONTH).head(1))
    history = scored.store.read_table("features", HISTORY).assign(OWN_CAR_AGE=np.float32(np.nan))
    scored.store.write_table("features", HISTORY, history)
    result = materialize_drift(scored)
    assert result.success, failure_message(result)
    figures = stored(scored)
    assert figures["month_rows"] == 1
    for name in ("EXT_SOURCE_1", "OWN_CAR_AGE"):
        row = feature_row(figures, name)
        assert np.isfinite(row["psi"]) and row["ks"] is None and row["ks_pvalue"] is None
    assert feature_row(figures, "AMT_CREDIT")["ks"] is not None
    assert np.isfinite(figures["probability_psi"])
    assert not figures["validation_slice_matches_card"]  # the history changed after the model was trained


@pytest.mark.parametrize("month", [MONTH, "2020-11"])
def test_reference_is_exactly_the_models_own_data(month: str, scored: StorageResource) -> None:
    load = lambda key, columns: scored.store.read_table("features", key, columns)  # noqa: E731
    data = training_data(scored.store.table_months("features"), load, month, ModelSettings())
    reference = model_reference(data.window(), load)
    assert frame_hash(reference.validation) == data.window().validation_sha256
    assert len(reference.rows) == len(data.train) + len(data.validation)
    assert reference.months == sorted(set(data.train_months + data.validation_months))
