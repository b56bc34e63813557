"""The model's fair-lending checks with real LightGBM on in-memory months: protected inputs and risk directions."""

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from credit_assets.core.contract import schema
from credit_assets.core.features import build_features, feature_names
from credit_assets.core.modeling import compliance
from credit_assets.core.modeling.models import LightGBMScorer
from credit_assets.core.modeling.settings import ModelSettings
from credit_assets.core.modeling.training import fit, split_out_of_time
from credit_assets_tests.conftest import contract_frame

QUICK = {"num_threads": 1, "max_boost_rounds": 150, "early_stopping_rounds": 30}


def month(rows: int = 3_000, seed: int = 0) -> pd.DataFrame:
    return contract_frame(rows, seed=seed)


def test_a_model_trained_with_code_gender_is_refused() -> None:
    frame = month()
    inputs = build_features(frame).assign(CODE_GENDER=frame["CODE_GENDER"])
    names = [*feature_names(), "CODE_GENDER"]
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_threads": 1},
        lgb.Dataset(inputs[names], label=inputs[schema.TARGET_COLUMN]),
        num_boost_round=20,
    )
    verdict = compliance.protected_inputs(booster.feature_name())
    assert not verdict.passed and verdict.description == "the model uses protected: CODE_GENDER"
    assert compliance.protected_inputs(feature_names()).passed
    assert not compliance.protected_inputs(["AGE_YEARS"]).passed  # derived from DAYS_BIRTH


@pytest.fixture(scope="module")
def against_the_declared_direction() -> pd.DataFrame:
    """A month where a higher external credit score 3 means more defaults: the opposite of the contract."""
    frame = month(6_000, seed=4)
    risk = 6.0 * frame["EXT_SOURCE_3"].fillna(0.5) - 3.0
    frame[schema.TARGET_COLUMN] = (np.random.default_rng(4).uniform(size=len(frame)) < 1 / (1 + np.exp(-risk))).astype(
        "int64"
    )
    return build_features(frame)


def test_an_unconstrained_model_on_data_against_a_declared_direction_is_blocked(
    against_the_declared_direction: pd.DataFrame,
) -> None:
    data = split_out_of_time({"2020-09": against_the_declared_direction}, min_defaults=200, max_share=0.3)
    booster = fit(data, feature_names(), {}, ModelSettings(**QUICK, monotone=False))
    verdict = compliance.declared_directions_hold(LightGBMScorer(booster), data.validation)
    assert not verdict.passed
    assert "EXT_SOURCE_3 (lower must raise risk;" in verdict.description
    assert verdict.figures["violations"]["EXT_SOURCE_3"] > 0


def test_the_constrained_model_follows_every_declared_direction(against_the_declared_direction: pd.DataFrame) -> None:
    data = split_out_of_time({"2020-09": against_the_declared_direction}, min_defaults=200, max_share=0.3)
    booster = fit(data, feature_names(), {}, ModelSettings(**QUICK))
    verdict = compliance.declared_directions_hold(LightGBMScorer(booster), data.validation)
    assert verdict.passed, verdict.description
    assert verdict.figures["swept_features"] == 26
