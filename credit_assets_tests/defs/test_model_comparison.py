"""model_comparison on small synthetic feature months, materialised with real Dagster."""

from collections.abc import Callable

import dagster as dg
import pytest

from credit_assets.core.modeling.comparison import CHART_FILE, REPORT_FILE, ComparisonSettings, candidates, subsample
from credit_assets.core.store import read_json
from credit_assets.defs.assets.model_comparison import model_comparison
from credit_assets.defs.storage import StorageResource

MONTHS = {"2020-09": 3_000, "2020-10": 1_000}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# One thread: OpenMP's spinning threads slow LightGBM tens of times when other work shares the 2 cores.
SMALL = {"seed": 7, "max_train_rows": 2_000, "num_threads": 1, "forest_trees": 30}
ASSET = "model_comparison"
RUN_CONFIG = {"ops": {ASSET: {"config": SMALL}}}


def _materialise(storage: StorageResource, month: str) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [model_comparison],
        partition_key=month,
        resources={"storage": storage},
        run_config=RUN_CONFIG,
        raise_on_error=False,
    )


def _without_timings(report: dict) -> list[dict]:
    return [{key: value for key, value in row.items() if key != "fit_seconds"} for row in report["models"]]


def test_compares_five_models_deterministically_on_the_out_of_time_split(feature_months: Callable) -> None:
    storage = feature_months(MONTHS)
    result = _materialise(storage, "2020-11")
    assert result.success
    report = read_json(storage.store.artifact_dir(ASSET, "2020-11") / REPORT_FILE)
    aucs = {row["model"]: row["roc_auc"] for row in report["models"]}
    assert set(aucs) == set(candidates(ComparisonSettings())) and len(aucs) == 5
    assert all(0 < auc <= 1 for auc in aucs.values())
    assert aucs["lightgbm"] > 0.65 and aucs["logistic_regression"] > 0.65
    assert list(aucs.values()) == sorted(aucs.values(), reverse=True)
    assert (report["train_months"], report["validation_months"]) == (["2020-09"], ["2020-10"])
    assert (report["train_rows"], report["train_rows_used"], report["validation_rows"]) == (3_000, 2_000, 1_000)
    assert (storage.store.artifact_dir(ASSET, "2020-11") / CHART_FILE).read_bytes().startswith(PNG_SIGNATURE)
    metadata = result.asset_materializations_for_node(ASSET)[0].metadata
    assert metadata["best_model"].value == report["best_model"] == report["models"][0]["model"]
    assert "data:image/png;base64," in metadata["roc_auc_chart"].value
    assert [record.data["model"] for record in metadata["comparison"].records] == list(aucs)
    assert _materialise(storage, "2020-11").success
    rerun = read_json(storage.store.artifact_dir(ASSET, "2020-11") / REPORT_FILE)
    assert _without_timings(rerun) == _without_timings(report)


def test_month_without_labelled_history_fails_clearly(feature_months: Callable) -> None:
    result = _materialise(feature_months(MONTHS), "2020-09")
    assert not result.success
    message = result.get_step_failure_events()[0].step_failure_data.error.message
    assert "No labelled month before 2020-09" in message


def test_subsample_is_seeded_and_stratified(feature_months: Callable) -> None:
    train = feature_months({"2020-09": 3_000}).store.read_table("features", "2020-09")
    first, again = subsample(train, 1_000, seed=3), subsample(train, 1_000, seed=3)
    assert len(first) == 1_000 and first.index.equals(again.index)
    assert first["TARGET"].mean() == pytest.approx(train["TARGET"].mean(), abs=0.002)
    assert subsample(train, 5_000, seed=3) is train
