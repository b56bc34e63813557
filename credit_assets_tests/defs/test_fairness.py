"""The fairness asset with its check in Dagster, on small generated months."""

import dataclasses
from pathlib import Path

import dagster as dg
import pytest

from credit_assets.core.monitoring.fairness import Fairness, limit_breaches
from credit_assets.core.store import read_json
from credit_assets.defs.assets.fairness import RESULT_FILE, fairness, fairness_within_limits
from credit_assets.defs.storage import StorageResource
from credit_assets_tests.support.materialise import (
    SMALL,
    copy_storage,
    scored_root,
    write_small_landing,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Fairness needs forecasts, not a tuned model; one LightGBM thread avoids thread contention on busy cores.
QUICK_MODEL = {"retune": "never", "num_threads": 1, "max_boost_rounds": 60}


@pytest.fixture(scope="module")
def scored_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """History 4,000 rows and two months of 1,500 (the second unlabelled), ingested; both months scored."""
    config = dataclasses.replace(SMALL, months=2, label_latest=False)
    generated = tmp_path_factory.mktemp("generated") / "landing"
    write_small_landing(generated, config)
    months = config.month_keys
    return scored_root(tmp_path_factory.mktemp("scored"), generated, months, months[1:], QUICK_MODEL)


@pytest.fixture
def scored(tmp_path: Path, scored_template: Path) -> StorageResource:
    return copy_storage(scored_template, tmp_path)


def run_fairness(
    storage: StorageResource, month: str, config: dict[str, float] | None = None
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [fairness, fairness_within_limits],
        partition_key=month,
        resources={"storage": storage},
        run_config={"ops": {"fairness": {"config": config or {}}}},
    )


def test_fairness_asset_writes_json_and_png_and_runs_its_check(scored: StorageResource) -> None:
    _, labelled, unlabelled = dataclasses.replace(SMALL, months=2).month_keys
    result = run_fairness(scored, labelled)
    assert result.success
    stored = read_json(scored.store.artifact_dir("fairness", labelled) / RESULT_FILE)
    assert stored["labelled"] and stored["rows"] == SMALL.rows_per_month
    assert sum(g["count"] for g in stored["attributes"]["gender"]["groups"]) == SMALL.rows_per_month
    assert (scored.store.artifact_dir("fairness", labelled) / "gender.png").read_bytes().startswith(PNG_SIGNATURE)
    materialisation = result.asset_materializations_for_node("fairness")[0].metadata
    assert {"gender", "age_band", "gender_plot", "gender_demographic_parity_difference"} <= set(materialisation)
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == "fairness_within_limits"
    assert check.passed == (limit_breaches(Fairness.from_dict(stored)) == [])

    strict = run_fairness(scored, labelled, {"max_demographic_parity_difference": 0.0})
    [failed] = strict.get_asset_check_evaluations()
    assert strict.success and not failed.passed and failed.severity == dg.AssetCheckSeverity.WARN
    assert "gender demographic_parity_difference" in (failed.description or "")

    assert run_fairness(scored, unlabelled).success
    later = read_json(scored.store.artifact_dir("fairness", unlabelled) / RESULT_FILE)
    assert not later["labelled"] and later["attributes"]["gender"]["demographic_parity_difference"] is not None
    assert later["attributes"]["gender"]["not_evaluated"] == {"equalized_odds_difference": "no labels this month"}
