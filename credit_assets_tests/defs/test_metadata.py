"""What the Dagster UI shows of the assets: numbers with the digits they mean, no constant or empty check entries,
and CSV exports people can read."""

from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from credit_assets.core.contract.quality import Rule
from credit_assets.core.months import landing_file_name
from credit_assets.defs.metadata import figures, rounded, table
from credit_assets_tests.support.bad_files import set_value
from credit_assets_tests.support.files import write_csv
from credit_assets_tests.support.materialise import MONTHS, failure_message, materialize_month, storage_with

HISTORY, FIRST = MONTHS[0], MONTHS[1]
NOISY = 0.123456789012345678  # what a float of a computation carries


def decimals(value: float) -> int:
    """How many decimals a float prints with."""
    text = repr(value)
    return len(text.split(".")[1]) if "." in text and "e" not in text else 0


def significant_digits(text: str) -> int:
    """Significant digits of a number as written in a CSV."""
    mantissa = text.lower().split("e")[0].replace("-", "").replace(".", "").lstrip("0")
    return len(mantissa)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("roc_auc", NOISY, 0.1235),
        ("validation_log_loss", NOISY, 0.1235),
        ("probability_psi", NOISY, 0.1235),
        ("ks", NOISY, 0.1235),
        ("approval_rate", NOISY, 0.123),
        ("shortfall", NOISY, 0.123),
        ("p_value", 0.000123456789, 0.000123),
        ("best_expected_profit", 123456.789012, 123457),
        ("expected_loss", 99.5000001, 100),
        ("something_else", 123.456789, 123.5),
    ],
)
def test_a_figure_keeps_the_digits_its_name_means(name: str, value: float, expected: float) -> None:
    assert rounded(value, name) == expected


def test_nested_figures_inherit_their_parents_meaning_and_tables_round_by_column() -> None:
    shares = {"decision_shares": {"approve": 0.7000000000000001, "decline": np.float64(NOISY)}, "n": 3, "ok": True}
    shown = figures(shares)
    assert shown["decision_shares"].data == {"approve": 0.7, "decline": 0.123}
    assert shown["n"] == 3 and shown["ok"] is True
    [record] = table(pd.DataFrame({"group": ["F"], "AUC": [NOISY], "p": [1 / 3], "n": [12]})).records
    assert record.data == {"group": "F", "AUC": 0.1235, "p": 0.333, "n": 12}


def test_the_forecast_csv_keeps_six_significant_digits_and_the_same_bytes(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"SK_ID_CURR": np.arange(200), "default_probability": rng.random(200) ** 3})
    first, second = write_csv(tmp_path / "a.csv", frame), write_csv(tmp_path / "b.csv", frame)
    assert first.read_bytes() == second.read_bytes()
    written = pd.read_csv(first, dtype=str)["default_probability"]
    assert max(map(significant_digits, written)) == 6
    np.testing.assert_allclose(written.astype(float), frame["default_probability"], rtol=5e-6)


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory, small_landing: Path) -> tuple[dg.ExecuteInProcessResult, ...]:
    """The history and first month ingested, then the first month landed again with a value out of bounds."""
    storage = storage_with(tmp_path_factory.mktemp("ingested"), small_landing, [HISTORY, FIRST])
    with dg.instance_for_test() as instance:
        good = [materialize_month(storage, month, instance=instance) for month in (HISTORY, FIRST)]
        assert all(result.success for result in good), [failure_message(result) for result in good]
        set_value("DAYS_BIRTH", 4, "12000")(storage.store.local_root.joinpath("landing", landing_file_name(FIRST)))
        broken = materialize_month(storage, FIRST, instance=instance)
    return (*good, broken)


def test_validated_month_metadata_has_rates_with_three_decimals(
    ingested: tuple[dg.ExecuteInProcessResult, ...],
) -> None:
    metadata = ingested[0].asset_materializations_for_node("validated_applications")[0].metadata
    floats = {key: value.value for key, value in metadata.items() if isinstance(value, dg.FloatMetadataValue)}
    assert "positive_rate" in floats and all(decimals(value) <= 3 for value in floats.values()), floats


def test_a_passing_gx_check_shows_no_constant_number_and_no_empty_failures(
    ingested: tuple[dg.ExecuteInProcessResult, ...],
) -> None:
    evaluations = ingested[1].get_asset_check_evaluations()
    assert {e.check_name for e in evaluations} == {rule.value for rule in Rule} and all(e.passed for e in evaluations)
    for evaluation in evaluations:
        assert set(evaluation.metadata) == {"file"}, evaluation.metadata
        assert evaluation.metadata["file"].value == landing_file_name(FIRST)


def test_a_failing_gx_check_shows_its_failures(ingested: tuple[dg.ExecuteInProcessResult, ...]) -> None:
    broken = ingested[2]
    assert not broken.success
    [failed] = [e for e in broken.get_asset_check_evaluations() if not e.passed]
    assert failed.check_name == Rule.VALUES_WITHIN_BOUNDS.value
    assert set(failed.metadata) == {"file", "failures"} and "DAYS_BIRTH" in failed.metadata["failures"].value
