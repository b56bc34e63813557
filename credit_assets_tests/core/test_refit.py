"""The month's models refit on every labelled row with what the out-of-time slice chose, with real LightGBM and
optbinning on generated months; without the refit they are the fits on the training rows, as before."""

from dataclasses import replace
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from credit_assets.core.contract import schema
from credit_assets.core.contract.normalise import normalise
from credit_assets.core.features import build_features, feature_names
from credit_assets.core.modeling import scorecard
from credit_assets.core.modeling.models import LightGBMScorer
from credit_assets.core.modeling.month_model import (
    DECLARED_DIRECTIONS,
    GATE,
    MonthModels,
    card_for,
    judged,
    train_month_models,
)
from credit_assets.core.modeling.settings import ModelSettings
from credit_assets.core.modeling.training import (
    TrainingData,
    fit,
    importance_table,
    metrics,
    predict,
    refit,
    split_out_of_time,
)
from credit_assets.synthetic.generate import GeneratorConfig, generate_months
from credit_assets_tests.conftest import contract_frame

TARGET = schema.TARGET_COLUMN
SETTINGS = ModelSettings(num_threads=1, retune="never", scorecard_characteristics=8)
# 6,000 labelled rows hold fewer than 1,000 defaults: the slice is capped at half the rows, as in the issue
MIN_DEFAULTS, MAX_SHARE = 1_000, 0.5


@pytest.fixture(scope="module")
def generated() -> dict[str, pd.DataFrame]:
    """A history of 4,000 rows and three labelled months of 1,000 (2020-10 .. 2020-12)."""
    config = GeneratorConfig(seed=3, history_rows=4_000, months=3, rows_per_month=1_000)
    return {batch.month: build_features(normalise(batch.frame)) for batch in generate_months(config)}


def before(generated: dict[str, pd.DataFrame], month: str) -> dict[str, pd.DataFrame]:
    return {key: frame for key, frame in generated.items() if key < month}


def trained(generated: dict, month: str, tmp_path: Path, **settings: object) -> MonthModels:
    data = split_out_of_time(before(generated, month), MIN_DEFAULTS, MAX_SHARE)
    return train_month_models(month, data, replace(SETTINGS, **settings), f"sqlite:///{tmp_path / 'optuna.db'}", None)


@pytest.fixture(scope="module")
def refit_models(generated: dict, tmp_path_factory: pytest.TempPathFactory) -> MonthModels:
    return trained(generated, "2020-12", tmp_path_factory.mktemp("refit"))


@pytest.fixture(scope="module")
def data(generated: dict) -> TrainingData:
    return split_out_of_time(before(generated, "2020-12"), MIN_DEFAULTS, MAX_SHARE)


@pytest.fixture(scope="module")
def alone(data: TrainingData) -> lgb.Booster:
    """The fit on the training rows alone, early-stopped on the slice: what the model was before the refit."""
    return fit(data, feature_names(), {}, SETTINGS)


def test_the_deployed_lightgbm_learned_the_newest_labelled_month_with_exactly_the_chosen_trees(
    generated: dict, data: TrainingData, alone: lgb.Booster, refit_models: MonthModels
) -> None:
    assert not data.validation_sufficient and data.train_months == ["2020-09"]  # the 50 % cap: training was old
    model = refit_models.candidates["lightgbm"].model
    window, booster = model.card.window, model.scorer.booster
    assert window.refit_on_all_labels and window.deployed_train_months == ["2020-09", "2020-10", "2020-11"]
    assert window.deployed_train_rows == 6_000 == window.train_rows + window.validation_rows
    assert window.deployed_train_defaults == sum(int(f[TARGET].sum()) for f in before(generated, "2020-12").values())
    assert booster.num_trees() == model.card.best_iteration == alone.best_iteration > 0

    validation = predict(alone, data.validation)
    assert model.card.validation_metrics == pytest.approx(metrics(data.validation[TARGET], validation))  # honest
    again = refit(data, booster.feature_name(), {}, SETTINGS, alone.best_iteration)
    month = generated["2020-12"]
    np.testing.assert_allclose(model.raw_probability(month), again.predict(month[booster.feature_name()]), rtol=1e-12)
    assert not np.allclose(model.raw_probability(month), predict(alone, month))


def test_the_deployed_scorecard_is_refit_on_every_labelled_row(
    data: TrainingData, alone: lgb.Booster, refit_models: MonthModels
) -> None:
    candidate = refit_models.candidates[scorecard.FAMILY]
    importance = importance_table(alone)
    names = importance.loc[importance["gain"] > 0, "feature"].head(SETTINGS.scorecard_characteristics).tolist()
    on_train = scorecard.fit_scorecard(data.train, names, SETTINGS.seed, SETTINGS.num_threads)[1]
    on_all = scorecard.fit_scorecard(data.labelled, names, SETTINGS.seed, SETTINGS.num_threads)[1]
    assert candidate.model.scorer.table == on_all != on_train
    np.testing.assert_allclose(candidate.validation_raw, expit(on_train.log_odds(data.validation)))  # validated
    assert candidate.model.card.window.deployed_train_rows == 6_000


def test_without_the_refit_the_deployed_models_are_the_fits_on_the_training_rows(
    generated: dict, alone: lgb.Booster, refit_models: MonthModels, tmp_path: Path
) -> None:
    plain = trained(generated, "2020-12", tmp_path, refit_on_all_labels=False)
    model, refitted = plain.candidates["lightgbm"].model, refit_models.candidates["lightgbm"].model
    window = model.card.window
    assert not window.refit_on_all_labels and window.deployed_train_months == window.train_months
    assert window.deployed_train_rows == window.train_rows == 3_000
    booster = model.scorer.booster
    assert booster.best_iteration == model.card.best_iteration > 0  # early-stopped on the slice, not refit
    assert booster.model_to_string() == alone.model_to_string()
    assert model.card.validation_metrics == refitted.card.validation_metrics
    assert plain.candidates[scorecard.FAMILY].model.card.window.deployed_train_rows == 3_000


def test_the_gate_scores_a_refit_previous_champion_only_on_rows_it_did_not_train_on(
    generated: dict, data: TrainingData, tmp_path: Path
) -> None:
    previous = trained(generated, "2020-11", tmp_path).candidates["lightgbm"].model  # refit on 2020-09 and 2020-10
    month = train_month_models("2020-12", data, SETTINGS, f"sqlite:///{tmp_path / 'optuna.db'}", previous)
    unseen = data.validation[month.previous.rows]
    assert len(unseen) == 1_000 and set(data.validation_row_months[month.previous.rows]) == {"2020-11"}
    on_unseen = metrics(unseen[TARGET], previous.raw_probability(unseen))["roc_auc"]
    on_whole_slice = metrics(data.validation[TARGET], previous.raw_probability(data.validation))["roc_auc"]
    assert month.previous.auc == on_unseen < on_whole_slice - 0.02  # its own training rows would flatter it
    figures = month.candidates["lightgbm"].verdicts[GATE].figures
    assert figures["compared_rows"] == 1_000 and figures["previous_model_auc"] == on_unseen


def test_the_declared_directions_are_judged_on_the_deployed_model_and_the_metrics_on_the_validated_one(
    data: TrainingData, alone: lgb.Booster
) -> None:
    frame = contract_frame(6_000, seed=4)
    risk = 6.0 * frame["EXT_SOURCE_3"].fillna(0.5) - 3.0  # higher score, more defaults: against the contract
    frame[TARGET] = (np.random.default_rng(4).uniform(size=len(frame)) < expit(risk)).astype("int64")
    against = split_out_of_time({"2020-09": build_features(frame)}, min_defaults=200, max_share=0.3)
    sound = LightGBMScorer(alone)
    unconstrained = LightGBMScorer(fit(against, feature_names(), {}, ModelSettings(num_threads=1, monotone=False)))
    card = card_for("2020-12", data, SETTINGS, "lightgbm", params={}, params_provenance={}, best_iteration=0,
                    features=feature_names(), importance=[])  # fmt: skip
    deploys_unsound = judged(sound, unconstrained, card, data, SETTINGS, None)
    assert not deploys_unsound.verdicts[DECLARED_DIRECTIONS].passed
    assert deploys_unsound.model.card.validation_metrics == metrics(
        data.validation[TARGET], expit(sound.log_odds(data.validation))
    )
    assert judged(unconstrained, sound, card, data, SETTINGS, None).verdicts[DECLARED_DIRECTIONS].passed
