"""drift on small generated months: PSI itself, the checks on a month drifted on EXT_SOURCE_3 and on the same month clean."""

import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from credit_assets import modeling, schema
from credit_assets.assets.drift import (
    ASSET,
    RESULT_FILE,
    ks,
    model_reference,
    psi,
)
from credit_assets.generate import GeneratorConfig
from credit_assets.partitions import landing_file_name
from credit_assets.resources.storage import StorageResource
from credit_assets_tests.helpers import (
    INGEST,
    copy_storage,
    failure_message,
    materialize_month,
    storage_with,
    write_small_landing,
)

# History and one month keep the file under a minute: the GX suite takes seconds per ingested month.
CLEAN = GeneratorConfig(seed=11, history_rows=4_000, months=1, rows_per_month=1_500)
HISTORY, MONTH = CLEAN.month_keys
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
    root = tmp_path_factory.mktemp("scored")
    storage = storage_with(root, landing["clean"], CLEAN.month_keys)
    for month in CLEAN.month_keys:
        assert materialize_month(storage, month, INGEST).success
    result = materialize_month(storage, MONTH, ["model", "forecasts"], model_config={"num_threads": 1})
    assert result.success, failure_message(result)
    return root


@pytest.fixture
def scored(tmp_path: Path, scored_template: Path) -> StorageResource:
    return copy_storage(scored_template, tmp_path)


def materialize_drift(storage: StorageResource, config: dict[str, Any] | None = None) -> dg.ExecuteInProcessResult:
    """Materialise drift and its checks for MONTH with the real Dagster machinery."""
    return materialize_month(storage, MONTH, [ASSET], op_configs={ASSET: config or {}})


def evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def stored(storage: StorageResource) -> dict[str, Any]:
    return storage.read_json(storage.artifact_dir(ASSET, MONTH) / RESULT_FILE)


def feature_row(result: dict[str, Any], name: str) -> dict[str, Any]:
    return next(row for row in result["features"] if row["feature"] == name)


def test_psi_is_zero_against_itself_and_large_against_a_shift() -> None:
    rng = np.random.default_rng(0)
    sample = pd.Series(rng.normal(size=5_000))
    assert psi(sample, sample) == pytest.approx(0.0, abs=1e-12)
    assert psi(sample, pd.Series(rng.normal(size=5_000))) < 0.02
    assert psi(sample, sample + 1.0) > 0.25
    levels = ["a", "b", "c"]
    usual = pd.Series(pd.Categorical(rng.choice(levels, 5_000, p=[0.7, 0.2, 0.1]), categories=levels))
    leaning = pd.Series(pd.Categorical(rng.choice(levels, 5_000, p=[0.2, 0.2, 0.6]), categories=levels))
    assert psi(usual, usual) == pytest.approx(0.0, abs=1e-12)
    assert psi(usual, leaning) > 0.25
    assert ks(usual, leaning) == (None, None)


def test_psi_and_ks_survive_all_missing_and_single_values() -> None:
    observed = pd.Series(np.random.default_rng(1).normal(size=1_000), dtype="float32")
    missing = pd.Series(np.nan, index=range(1_000), dtype="float32")
    half_missing = observed.where(observed.index % 2 == 0)
    for reference, values in ((missing, half_missing), (observed, missing)):
        assert np.isfinite(psi(reference, values)) and psi(reference, values) > 0.25
        assert ks(reference, values) == (None, None)
    assert np.isfinite(psi(observed, observed.iloc[:1]))
    statistic, pvalue = ks(observed, observed.iloc[:1])
    assert 0 < statistic <= 1 and 0 <= pvalue <= 1


def test_clean_month_passes_and_records_every_figure(scored: StorageResource) -> None:
    result = materialize_drift(scored)
    assert result.success, failure_message(result)
    checks = evaluations(result)
    assert checks["important_features_stable"].passed and checks["prediction_distribution_stable"].passed
    figures = stored(scored)
    card = modeling.load_model(scored.artifact_dir("model", MONTH))[1]
    assert figures["thresholds"] == {"warn_psi": 0.1, "error_psi": 0.25}
    assert figures["reference_months"] == [HISTORY] and figures["validation_slice_matches_card"]
    assert figures["top_features"] == [item["feature"] for item in card["importance"][:10]]
    assert "EXT_SOURCE_3" in figures["top_features"]  # else the drift test below would judge nothing
    assert [row["feature"] for row in figures["features"]] == sorted(card["features"], key=lambda n: (-feature_row(figures, n)["psi"], n))
    assert feature_row(figures, "EXT_SOURCE_3")["psi"] < 0.1
    assert 0 < figures["probability_psi"] < 0.1
    assert figures["label_rate"] == pytest.approx(scored.read_table("features", MONTH)[schema.TARGET_COLUMN].mean())
    assert figures["reference_label_rate"] == pytest.approx(scored.read_table("features", HISTORY)[schema.TARGET_COLUMN].mean())
    metadata = result.asset_materializations_for_node(ASSET)[0].metadata
    assert len(metadata["features"].records) == len(card["features"])
    assert metadata["probability_psi"].value == figures["probability_psi"]
    assert (scored.artifact_dir(ASSET, MONTH) / "psi.png").read_bytes().startswith(PNG_SIGNATURE)


def test_drift_on_ext_source_3_fails_the_check_where_the_clean_month_passed(scored: StorageResource, landing: dict[str, Path]) -> None:
    clean = materialize_drift(scored)
    assert evaluations(clean)["important_features_stable"].passed
    clean_psi, clean_probability_psi = feature_row(stored(scored), "EXT_SOURCE_3")["psi"], stored(scored)["probability_psi"]
    shutil.copy(landing["drifted"] / landing_file_name(MONTH), scored.landing_dir / landing_file_name(MONTH))
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
    frame = scored.read_table("features", MONTH)
    frame[schema.TARGET_COLUMN] = np.float32(np.nan)  # what build_features gives a month landed without TARGET
    scored.write_table("features", MONTH, frame)
    result = materialize_drift(scored)
    assert result.success, failure_message(result)
    figures = stored(scored)
    assert figures["label_rate"] is None and figures["reference_label_rate"] > 0
    assert set(evaluations(result)) == {"important_features_stable", "prediction_distribution_stable"}


def test_one_row_month_and_all_missing_features_do_not_crash(scored: StorageResource) -> None:
    month = scored.read_table("features", MONTH).head(1).assign(EXT_SOURCE_1=np.float32(np.nan))
    scored.write_table("features", MONTH, month)
    scored.write_table("forecasts", MONTH, scored.read_table("forecasts", MONTH).head(1))
    history = scored.read_table("features", HISTORY).assign(OWN_CAR_AGE=np.float32(np.nan))
    scored.write_table("features", HISTORY, history)
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
    data = modeling.training_data(scored, month)  # 2020-10: history split 90/10; 2020-11: history + 2020-10
    reference = model_reference(scored, data.window())
    assert modeling.frame_hash(reference.validation) == data.window()["validation_sha256"]
    assert len(reference.rows) == len(data.train) + len(data.validation)
    assert reference.months == sorted(set(data.train_months + data.validation_months))
