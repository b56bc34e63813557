"""PSI and KS on in-memory samples."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from credit_assets.core.monitoring.drift import ks, psi


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


def test_ks_statistic_is_scipys_and_its_p_value_the_asymptotic_one() -> None:
    rng = np.random.default_rng(2)
    reference = pd.Series(np.round(rng.normal(size=20_000), 2))  # ties, as in real columns
    shifted = pd.Series(np.round(rng.normal(0.05, 1, size=4_000), 2))
    for values in (reference.iloc[:4_000], shifted):
        expected = stats.ks_2samp(reference, values, method="asymp")
        statistic, pvalue = ks(reference, values)
        assert statistic == pytest.approx(expected.statistic, abs=1e-12)
        assert pvalue == pytest.approx(expected.pvalue, rel=0.05, abs=1e-6)
