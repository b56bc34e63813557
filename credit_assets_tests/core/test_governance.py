"""Governance pieces on their own: the validation slice, calibration, the scorecard, the registry and economics."""

from dataclasses import replace
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit
from sklearn.metrics import log_loss

from credit_assets.core import economics
from credit_assets.core.blobs import LocalBlobs
from credit_assets.core.contract import schema
from credit_assets.core.economics import EconomicsSettings
from credit_assets.core.features import build_features, feature_names
from credit_assets.core.modeling import calibration, scorecard
from credit_assets.core.modeling.calibration import Calibrator
from credit_assets.core.modeling.card import ModelCard
from credit_assets.core.modeling.models import LightGBMScorer, Model, ScorecardScorer
from credit_assets.core.modeling.registry import ModelRegistry, RegistryError
from credit_assets.core.modeling.settings import ModelSettings
from credit_assets.core.modeling.training import split_out_of_time
from credit_assets.core.scoring import Cutoffs
from credit_assets.synthetic.generate import GeneratorConfig, generate_months

ID, TARGET = schema.ID_COLUMN, schema.TARGET_COLUMN


@pytest.fixture(scope="module")
def generated() -> dict[str, pd.DataFrame]:
    """Generated feature months (history 6,000 rows, two months of 2,000) with labels."""
    config = GeneratorConfig(seed=5, history_rows=6_000, months=2, rows_per_month=2_000)
    from credit_assets.core.contract.normalise import normalise

    return {batch.month: build_features(normalise(batch.frame)) for batch in generate_months(config)}


def test_the_validation_slice_grows_back_in_time_until_it_holds_the_defaults(generated: dict) -> None:
    data = split_out_of_time(generated, min_defaults=300, max_share=0.5)
    newest = max(generated)
    assert data.validation_defaults >= 300 and data.validation_sufficient
    assert data.validation_months[-1] == newest and len(data.validation_months) == 2  # more than the newest month
    assert data.train[ID].max() < data.validation[ID].min()  # out of time: every validation row is newer
    assert data.validation[TARGET].iloc[1:].sum() < 300  # no older row than needed
    capped = split_out_of_time(generated, min_defaults=10_000, max_share=0.2)
    assert not capped.validation_sufficient and len(capped.validation) == pytest.approx(0.2 * 10_000, abs=1)
    assert capped.window().validation_sufficient is False


def overweighted_lightgbm(data) -> lgb.Booster:  # noqa: ANN001
    """A LightGBM whose class weighting pushes its probabilities far above the default rate."""
    return lgb.train(
        {"objective": "binary", "scale_pos_weight": 5.0, "num_threads": 1, "verbose": -1, "seed": 1},
        lgb.Dataset(data.train[feature_names()], label=data.train[TARGET]),
        num_boost_round=80,
    )


def test_calibration_lowers_the_validation_log_loss_of_an_overweighted_model(generated: dict) -> None:
    data = split_out_of_time(generated, min_defaults=300, max_share=0.5)
    raw = expit(LightGBMScorer(overweighted_lightgbm(data)).log_odds(data.validation))
    calibrator, report = calibration.calibrate(data.validation[TARGET], raw)
    assert report.method != "none"
    assert report.log_loss_after < report.log_loss_before - 0.01
    assert report.ece_after < report.ece_before / 2
    held = data.validation[TARGET].to_numpy()[len(raw) // 2 :]
    assert report.log_loss_after == pytest.approx(
        log_loss(held, calibration.fit_calibrator(report.method, data.validation[TARGET].to_numpy()[: len(raw) // 2],
                                                  raw[: len(raw) // 2]).apply(raw[len(raw) // 2 :]))
    )  # fmt: skip
    assert Calibrator.from_json(calibrator.to_json()) == calibrator
    assert np.all(np.diff(calibrator.apply(np.linspace(0.001, 0.999, 50))) >= 0)  # monotone: ranking kept


def test_a_calibrator_is_not_chosen_on_a_gain_inside_the_noise() -> None:
    rng = np.random.default_rng(1)
    truth = rng.uniform(0.01, 0.2, 4_000)
    labels = (rng.uniform(size=truth.size) < truth).astype(int)
    calibrator, report = calibration.calibrate(pd.Series(labels), expit(logit(truth) + 0.05))
    gain = report.held_out_log_loss["none"] - report.held_out_log_loss["isotonic"]
    assert gain > calibration.MIN_RELATIVE_GAIN * report.held_out_log_loss["none"]  # enough by the relative rule
    assert gain < calibration.MATERIAL_STANDARD_ERRORS * report.held_out_gain_standard_error["isotonic"]
    assert report.method == "none" and calibrator == Calibrator()


def test_the_binomial_check_warns_on_a_miscalibrated_month_and_says_when_defaults_are_too_few() -> None:
    rng = np.random.default_rng(0)
    probabilities = rng.uniform(0.01, 0.3, 20_000)
    labels = (rng.uniform(size=probabilities.size) < probabilities).astype(int)
    table = calibration.band_table(labels, probabilities)
    assert calibration.calibration_verdict(table, 0.01, 30).passed
    doubled = calibration.band_table(labels, probabilities * 2)
    verdict = calibration.calibration_verdict(doubled, 0.01, 30)
    assert not verdict.passed and len(verdict.figures["miscalibrated_bands"]) >= 5
    few = calibration.band_table(labels[:100] * 0, probabilities[:100])
    verdict = calibration.calibration_verdict(few, 0.01, 30)
    assert verdict.passed and verdict.description.startswith("too few defaults for a calibration test: 0")


@pytest.fixture(scope="module")
def fitted_scorecard(generated: dict):  # noqa: ANN201
    data = split_out_of_time(generated, min_defaults=300, max_share=0.5)
    names = ["EXT_SOURCE_3", "EXT_SOURCE_2", "EXT_SOURCE_1", "AMT_ANNUITY", "ORGANIZATION_TYPE", "DAYS_EMPLOYED"]
    card, table = scorecard.fit_scorecard(data.train, names, seed=0, threads=1)
    return data, card, table


def test_the_scorecards_points_reproduce_its_probabilities(fitted_scorecard) -> None:  # noqa: ANN001
    data, card, table = fitted_scorecard
    names = table.feature_name()
    expected = scorecard.probabilities(card, data.validation, names)
    np.testing.assert_allclose(expit(table.log_odds(data.validation)), expected, rtol=0, atol=1e-12)
    reloaded = scorecard.PointsTable.from_json(table.to_json())
    np.testing.assert_allclose(expit(reloaded.log_odds(data.validation)), expected, rtol=0, atol=1e-12)
    categorical = next(item for item in table.characteristics if item.categorical)
    assert categorical.name == "ORGANIZATION_TYPE" and categorical.groups


def test_contributions_and_bias_sum_to_the_log_odds_for_both_families(fitted_scorecard, generated: dict) -> None:  # noqa: ANN001
    data, _, table = fitted_scorecard
    contributions = table.contributions(data.validation)
    assert contributions.shape == (len(data.validation), len(table.feature_name()) + 1)
    assert (contributions[:, :-1] >= 0).all() and (contributions[:, :-1] > 0).any()  # points lost vs the best
    np.testing.assert_allclose(contributions.sum(axis=1), table.log_odds(data.validation), rtol=0, atol=1e-9)
    scorer = model_of("2020-11", 0, generated).scorer
    shap = scorer.contributions(data.validation)
    np.testing.assert_allclose(shap.sum(axis=1), scorer.log_odds(data.validation), rtol=0, atol=1e-9)


def model_of(month: str, seed: int, generated: dict) -> Model:
    data = split_out_of_time(generated, min_defaults=300, max_share=0.5)
    booster = lgb.train(
        {"objective": "binary", "num_threads": 1, "verbose": -1, "seed": seed, "bagging_fraction": 0.8,
         "bagging_freq": 1},
        lgb.Dataset(data.train[feature_names()], label=data.train[TARGET]),
        num_boost_round=20,
    )  # fmt: skip
    card = ModelCard(month, "lightgbm", data.window(), {}, {}, seed, 1, 20, feature_names(), {"roc_auc": 0.7}, [])
    return Model(LightGBMScorer(booster), Calibrator(), card)


def test_the_registry_keeps_each_model_once_by_content_and_refuses_a_changed_file(
    tmp_path: Path, generated: dict
) -> None:
    registry = ModelRegistry(LocalBlobs(tmp_path))
    first, added = registry.register(model_of("2020-11", 1, generated))
    again, added_again = registry.register(model_of("2020-11", 1, generated))
    other, added_other = registry.register(model_of("2020-11", 2, generated))
    assert added and not added_again and added_other
    assert first.version == again.version != other.version and first.version.startswith("lightgbm-")
    assert [card.version for card in registry.cards()] == sorted([first.version, other.version])
    frame = generated["2020-11"]
    np.testing.assert_array_equal(registry.load(first.version).predict(frame), first.predict(frame))
    calibration_file = Path(registry.location(first.version)) / "calibration.json"
    calibration_file.write_text(Calibrator("sigmoid", slope=2.0).to_json())
    with pytest.raises(RegistryError, match=f"Registry entry {first.version}: .*calibration.json no longer matches"):
        registry.load(first.version)
    with pytest.raises(RegistryError):
        registry.register(model_of("2020-11", 1, generated))
    assert "sigmoid" in calibration_file.read_text()  # never rewritten


def test_the_promotion_log_is_append_only_and_chained(tmp_path: Path) -> None:
    registry = ModelRegistry(LocalBlobs(tmp_path))
    registry.append({"month": "2020-10", "champion": None})
    first_line = registry.log.lines.path.read_bytes()
    entry = registry.append({"month": "2020-10", "champion": None, "rule": "lightgbm"})
    assert registry.log.lines.path.read_bytes().startswith(first_line)
    assert entry["sequence"] == 2 and entry["previous_sha256"] == registry.promotions()[0]["sha256"]
    assert registry.decision("2020-10").rule == "lightgbm" and registry.decision("2020-11") is None
    lines = registry.log.lines.path.read_text().splitlines()
    registry.log.lines.path.write_text("\n".join([lines[1]]) + "\n")  # the first decision removed
    with pytest.raises(RegistryError, match="line 1 breaks the chain"):
        registry.promotions()


def test_the_recommended_cutoff_maximises_expected_profit_on_a_hand_computed_example() -> None:
    settings = EconomicsSettings(lgd=0.5, margin=0.1, cost_per_application=0.0, target_approval_rate=0.5)
    forecasts = pd.DataFrame({ID: [1, 2, 3, 4], "default_probability": [0.05, 0.2, 0.5, 0.1]})
    exposures = pd.DataFrame({ID: [1, 2, 3, 4], "AMT_CREDIT": [100.0, 100.0, 100.0, 200.0]})
    # approving loan i earns 0.1 E (1 - p) - 0.5 E p: 1 -> 7, 4 -> 18 - 10 = 8, 2 -> 8 - 10 = -2, 3 -> 5 - 25 = -20
    result = economics.assess("2020-11", forecasts, exposures, Cutoffs(0.1, 0.25), settings)
    policies = {p["policy"]: p for p in result.policies}
    best = policies["most profitable"]
    assert best["cutoff"] == pytest.approx(0.2) and best["expected_profit"] == pytest.approx(15.0)
    assert best["approval_rate"] == 0.5 and best["expected_loss"] == pytest.approx(0.05 * 50 + 0.1 * 100)
    configured = policies["configured (decline cut-off)"]  # approves 1, 4 and 2 (PD < 0.25)
    assert configured["expected_profit"] == pytest.approx(13.0) and result.shortfall == pytest.approx(2 / 15)
    assert policies["approval rate 50%"]["approved"] == 2
    assert not economics.cutoffs_near_best(result, settings).passed
    assert economics.cutoffs_near_best(result, replace(settings, max_profit_shortfall=0.2)).passed


def test_economics_refuse_bad_parameters_and_negative_exposures() -> None:
    for bad, message in (
        ({"lgd": 1.2}, "lgd must lie in"),
        ({"margin": -0.1}, "margin must be >= 0"),
        ({"target_approval_rate": 0.0}, "target_approval_rate must lie in"),
    ):
        with pytest.raises(ValueError, match=message):
            EconomicsSettings(**bad)
    forecasts = pd.DataFrame({ID: [1, 2], "default_probability": [0.1, 0.2]})
    exposures = pd.DataFrame({ID: [1, 2], "AMT_CREDIT": [100.0, -5.0]})
    with pytest.raises(ValueError, match=r"1 rows are negative or missing \(SK_ID_CURR \[2\]\)"):
        economics.assess("2020-11", forecasts, exposures, Cutoffs(), EconomicsSettings())


def test_settings_refuse_a_promotion_rule_that_names_no_model() -> None:
    with pytest.raises(ValueError, match="promotion_rule 'xgboost' names no model"):
        ModelSettings(promotion_rule="xgboost")
    assert ScorecardScorer.family == "scorecard"
