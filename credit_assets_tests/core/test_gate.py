"""The champion gate's comparison with the previous model: a paired DeLong test, checked against sklearn and a
bootstrap, and a drop refused only when it is beyond the limit and significant."""

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from credit_assets.core.modeling.gate import PreviousModel, compare_aucs, gate
from credit_assets.core.modeling.settings import ModelSettings


def scores(rows: int, signal_new: float, signal_previous: float, seed: int) -> tuple[np.ndarray, ...]:
    """Labels at an 8 % default rate and two scores that see them with the given strengths, correlated."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(rows) < 0.08).astype(int)
    shared = rng.normal(size=rows)
    new = signal_new * labels + shared + 0.5 * rng.normal(size=rows)
    previous = signal_previous * labels + shared + 0.5 * rng.normal(size=rows)
    return labels, new, previous


def test_the_aucs_are_sklearns_and_the_spread_of_their_difference_matches_a_bootstrap() -> None:
    labels, new, previous = scores(3_000, 1.0, 1.0, seed=1)
    compared = compare_aucs(labels, new, previous)
    assert compared.new_auc == pytest.approx(roc_auc_score(labels, new), abs=1e-12)
    assert compared.previous_auc == pytest.approx(roc_auc_score(labels, previous), abs=1e-12)
    rng = np.random.default_rng(2)
    draws = [rng.integers(0, len(labels), len(labels)) for _ in range(500)]
    differences = [roc_auc_score(labels[d], new[d]) - roc_auc_score(labels[d], previous[d]) for d in draws]
    bootstrap_z = (compared.new_auc - compared.previous_auc) / np.std(differences)
    assert stats.norm.ppf(compared.p_value) == pytest.approx(bootstrap_z, rel=0.15)  # 500 draws: sd within ~6 %


def test_a_small_drop_on_few_defaults_passes_and_a_significant_one_is_refused() -> None:
    settings = ModelSettings()
    few = scores(150, 0.9, 1.0, seed=3)
    compared = compare_aucs(*few)
    previous = PreviousModel("previous", compared.previous_auc, np.ones(150, bool), few[2])
    assert compared.new_auc < compared.previous_auc - settings.max_auc_drop and compared.p_value > 0.05
    assert gate(settings, 0.7, previous, compared).passed
    many = scores(20_000, 0.7, 1.0, seed=4)
    compared = compare_aucs(*many)
    verdict = gate(
        settings, 0.7, PreviousModel("previous", compared.previous_auc, np.ones(20_000, bool), many[2]), compared
    )
    assert not verdict.passed and "significantly" in verdict.description and compared.p_value < 1e-6


def test_one_class_only_cannot_be_compared() -> None:
    assert compare_aucs(np.zeros(10, int), np.arange(10.0), np.arange(10.0)) is None
