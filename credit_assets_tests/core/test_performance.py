"""Calibration in the large: expected against observed defaults of a month, and the power its test claims."""

import numpy as np
import pandas as pd

from credit_assets.core.contract import schema
from credit_assets.core.monitoring import performance
from credit_assets.core.monitoring.performance import Performance, in_the_large

ROWS = 1_500


def probabilities(seed: int = 3) -> np.ndarray:
    """Skewed default probabilities with a mean near 8 %, as a small month's forecasts."""
    return np.random.default_rng(seed).beta(1.2, 14.0, ROWS)


def draw(p: np.ndarray, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random(len(p)) < p).astype(np.int64)


def test_a_well_calibrated_month_passes_and_states_what_it_could_detect() -> None:
    p = probabilities()
    found = in_the_large(draw(p, 1), p)
    assert found["tested"] and found["p_value"] > performance.IN_THE_LARGE_SIGNIFICANCE
    assert found["expected_defaults"] == np.sum(p)
    assert 0.15 < found["detectable_excess"] < 0.4  # 1,500 rows at 8 %: only a shift of about a quarter is seen


def test_labels_shifted_by_the_detectable_excess_are_flagged() -> None:
    p = probabilities()
    shifted = p * (1 + in_the_large(draw(p, 1), p)["detectable_excess"] * 1.3)
    found = in_the_large(draw(shifted, 2), p)
    assert not found["passed"] and found["z"] > 0
    assert found["observed_defaults"] > found["expected_defaults"]


def test_the_stated_power_matches_a_simulation() -> None:
    p = probabilities()
    excess = in_the_large(draw(p, 1), p)["detectable_excess"]
    rng = np.random.default_rng(7)
    detected = [not in_the_large(draw(p * (1 + excess), int(s)), p)["passed"] for s in rng.integers(0, 2**31, 2_000)]
    assert abs(np.mean(detected) - performance.IN_THE_LARGE_POWER) < 0.035  # 2,000 draws: standard error 0.009


def test_measure_reports_the_approved_applicants_and_calibrated_fails_on_a_shift_no_band_sees() -> None:
    p = probabilities()
    decisions = np.where(p < 0.12, "approve", "decline")
    labels = draw(np.clip(p * 1.3, 0, 1), 4)
    result = measure(labels, p, decisions)
    approved = result.approved_in_the_large
    assert approved["rows"] == int((decisions == "approve").sum())
    assert approved["observed_rate"] == labels[decisions == "approve"].mean()
    verdict = performance.calibrated(result)
    assert all(p_value > 0.01 / 10 for p_value in verdict.figures["p_values"])  # no band alone is off
    assert not verdict.passed and "calibration in the large" in verdict.description
    assert verdict.figures["in_the_large"]["z"] > 2


def test_a_result_stored_before_calibration_in_the_large_is_still_judged_by_its_bands() -> None:
    p = probabilities()
    stored = measure(draw(p, 1), p, np.full(ROWS, "approve")).to_dict()
    del stored["in_the_large"], stored["approved_in_the_large"]
    verdict = performance.calibrated(Performance.from_dict(stored))
    assert verdict.passed and "not tested" in verdict.description


def measure(labels: np.ndarray, p: np.ndarray, decisions: np.ndarray) -> Performance:
    ids = np.arange(len(p))
    validated = pd.DataFrame({schema.ID_COLUMN: ids, schema.TARGET_COLUMN: labels})
    forecasts = pd.DataFrame({schema.ID_COLUMN: ids, "default_probability": p, "decision": decisions})
    card = type("Card", (), {"validation_metrics": {"roc_auc": 0.75}, "version": "v1"})()
    return performance.measure("2020-10", validated, forecasts, card)
