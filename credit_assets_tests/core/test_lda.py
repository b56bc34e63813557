"""The search for a less discriminatory alternative on a small generated window with real LightGBM and optbinning
(one development, about ten seconds), and its policy on hand-made records."""

from dataclasses import replace

import pandas as pd
import pytest

from credit_assets.core.contract import schema
from credit_assets.core.contract.normalise import normalise
from credit_assets.core.features import build_features, protected_features
from credit_assets.core.modeling import lda
from credit_assets.core.modeling.documentation import LDA_SCOPE, lda_section
from credit_assets.core.modeling.month_model import NO_PROTECTED_INPUTS, Development, develop
from credit_assets.core.modeling.registry import content_version
from credit_assets.core.modeling.settings import ModelSettings
from credit_assets.core.modeling.training import TrainingData, split_out_of_time
from credit_assets.synthetic.generate import GeneratorConfig, generate_months

MONTH = "2020-12"
SETTINGS = ModelSettings(num_threads=1, retune="never", scorecard_characteristics=8, max_boost_rounds=300)
PROTECTED = [schema.ID_COLUMN, *lda.PROTECTED_COLUMNS]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def window() -> tuple[TrainingData, pd.DataFrame]:
    """Three labelled months before 2020-12 (6,000 rows, the newest half validates) and their protected columns."""
    config = GeneratorConfig(seed=3, history_rows=4_000, months=3, rows_per_month=1_000)
    validated = {batch.month: normalise(batch.frame) for batch in generate_months(config) if batch.month < MONTH}
    data = split_out_of_time({key: build_features(frame) for key, frame in validated.items()}, 1_000, 0.5)
    return data, pd.concat(validated.values())[PROTECTED]


@pytest.fixture(scope="module")
def development(window: tuple[TrainingData, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> Development:
    data, protected = window
    study = f"sqlite:///{tmp_path_factory.mktemp('lda') / 'optuna.db'}"
    return develop(MONTH, data, protected, SETTINGS, study, None)


def test_the_proxy_analysis_ranks_an_external_score_among_the_strongest_inputs_for_age(
    development: Development,
) -> None:
    proxies = development.search.proxies
    assert len(proxies) == lda.PROXY_FEATURES
    assert all(0 <= value <= 1 for proxy in proxies for value in proxy["association"].values())
    by_age = sorted(proxies, key=lambda proxy: -proxy["association"]["age_band"])
    # the generator loads EXT_SOURCE_1 on age (EXT_SOURCE_MEAN, _MIN, _MAX carry it)
    assert any(proxy["feature"].startswith("EXT_SOURCE") for proxy in by_age[:5])
    assert by_age[0]["association"]["age_band"] > 3 * by_age[-1]["association"]["age_band"]


def test_the_worst_group_is_judged_and_the_proxies_are_ranked_by_their_share_of_it(development: Development) -> None:
    search = development.search
    base = next(a for a in lda.alternatives_of(search) if a.name == search.base)
    assert search.disparity_group == base.worst_group and base.worst_air < 1
    attribute = search.disparity_group.split(":")[0]
    shares = [proxy["disparity_share"][attribute] for proxy in search.proxies]
    known = [share for share in shares if share is not None]
    assert known == sorted(known, reverse=True) and known[0] > 0


def test_no_alternative_uses_a_protected_feature_and_each_drops_the_strongest_proxies_cumulatively(
    development: Development,
) -> None:
    candidates, search = development.models.candidates, development.search
    for candidate in candidates.values():
        assert not set(candidate.model.scorer.feature_name()) & set(protected_features())
        assert candidate.verdicts[NO_PROTECTED_INPUTS].passed
    attribute = search.disparity_group.split(":")[0]
    positive = [p["feature"] for p in search.proxies if (p["disparity_share"][attribute] or 0) > 0]
    expected = positive[: SETTINGS.lda_proxies]
    dropped = {a["name"]: a["features_removed"] for a in search.alternatives if a["features_removed"]}
    assert list(dropped.values()) == [expected[:k] for k in range(1, len(expected) + 1)]
    everything = set(candidates["lightgbm"].model.scorer.feature_name())
    for name, removed in dropped.items():
        assert set(candidates[name].model.scorer.feature_name()) == everything - set(removed)
    assert set(candidates) == {"lightgbm", "scorecard", *dropped, "lightgbm_unconstrained"}


def test_the_search_proposes_a_model_within_tolerance_and_never_a_cutoff(development: Development) -> None:
    search = development.search
    found = {a.name: a for a in lda.alternatives_of(search)}
    cutoffs = [a for a in found.values() if a.kind == lda.CUTOFF]
    assert len(cutoffs) == len(lda.CUTOFF_FACTORS) and not any(a.pickable for a in cutoffs)
    base, picked = found[search.base], found[search.picked]
    assert picked.kind == lda.MODEL and picked.passed
    assert picked.validation_auc >= base.validation_auc - search.auc_tolerance
    assert picked.profit >= base.profit - search.profit_tolerance * abs(base.profit)
    assert development.proposed is development.models.candidates[search.picked]
    deployed = development.proposed.model  # an alternative is weighed out of time and only the proposal refit
    assert search.picked_version == content_version(deployed.card.family, deployed.files())
    assert lda.picked_air(search) == {key: air for key, air in picked.air.items() if air is not None}
    table = lda.frontier_table(search)
    assert table["picked"].sum() == 1 and table.loc[table["picked"], "within_tolerance"].all()


def test_the_record_round_trips_and_the_chart_and_section_render(development: Development) -> None:
    search = development.search
    assert lda.LdaSearch.from_json(search.to_json()) == search
    assert lda.LdaSearch.from_dict(search.to_dict()) == search
    assert development.frontier_png.startswith(PNG) and lda.frontier_png(search) == development.frontier_png
    section = lda_section(search, "lda_frontier.png")
    assert "lda_frontier.png" in section and "Regulation B" in LDA_SCOPE and "disparate" in section
    assert all(a["name"].replace("_", "_<wbr>") in section for a in search.alternatives)  # names break after _


def test_the_proxy_analysis_is_reproducible(development: Development, window: tuple) -> None:
    data, protected = window
    base = development.models.candidates[development.search.base]
    frame = lda.slice_frame(data.validation, protected)
    analysis = lda.proxy_analysis(
        MONTH, base.validated, base.model.calibrator, base.model.card.top_features(lda.PROXY_FEATURES),
        data.validation, frame, 0.10,
    )  # fmt: skip
    assert [proxy.to_dict() for proxy in analysis.proxies] == development.search.proxies
    assert analysis.disparity_group == development.search.disparity_group


def test_a_validation_row_without_its_protected_attributes_is_refused(window: tuple) -> None:
    data, protected = window
    with pytest.raises(ValueError, match="protected attributes missing for 1 validation rows"):
        lda.slice_frame(
            data.validation, protected[protected[schema.ID_COLUMN] != data.validation[schema.ID_COLUMN].iloc[0]]
        )


def alternative(name: str, auc: float, profit: float, worst_air: float, **changes: object) -> lda.Alternative:
    """A hand-made model alternative that passes its verdicts."""
    made = lda.Alternative(
        name=name, description=name, kind=lda.MODEL, family="lightgbm", features_removed=[], monotone=True,
        version=f"lightgbm-{name}", approve_below=0.10, validation_auc=auc, profit=profit, approval_rate=0.75,
        air={"age_band:<25": worst_air}, worst_air=worst_air, worst_group="age_band:<25", flagged=[], passed=True,
        pickable=True,
    )  # fmt: skip
    return replace(made, **changes)


BASE = alternative("base", 0.720, 100.0, 0.70)


def test_the_policy_picks_the_least_discriminatory_alternative_within_tolerance() -> None:
    options = [
        BASE,
        alternative("within", 0.716, 98.5, 0.78),  # AUC -0.004, profit -1.5 %: within 0.005 and 2 %
        alternative("fairer_but_weaker", 0.700, 100.0, 0.90),  # AUC -0.020
        alternative("fairer_but_costly", 0.720, 95.0, 0.92),  # profit -5 %
        alternative("fairer_but_failing", 0.720, 100.0, 0.95, passed=False),
        alternative("cutoff", 0.720, 101.0, 0.99, kind=lda.CUTOFF, pickable=False),
    ]
    picked, reason = lda.pick(options, "base", 0.005, 0.02)
    assert picked == "within"
    assert reason.startswith("within: worst AIR 0.780 (age_band:<25) against 0.700") and "AUC -0.0040" in reason


def test_the_policy_keeps_the_base_when_no_alternative_within_tolerance_is_fairer() -> None:
    options = [
        BASE,
        alternative("weaker", 0.710, 100.0, 0.90),
        alternative("less_fair", 0.721, 101.0, 0.65),
        alternative("cutoff", 0.720, 101.0, 0.99, kind=lda.CUTOFF, pickable=False),
    ]
    picked, reason = lda.pick(options, "base", 0.005, 0.02)
    assert picked == "base" and reason.startswith("base kept: no alternative within tolerance improves")


def test_only_a_clear_air_gain_changes_the_model_and_ties_go_to_the_higher_auc() -> None:
    assert lda.pick([BASE, alternative("same", 0.721, 100.0, 0.70)], "base", 0.005, 0.02)[0] == "base"
    noise = 0.70 + lda.MIN_AIR_GAIN / 2  # one or two decisions of a small group
    assert lda.pick([BASE, alternative("noise", 0.720, 100.0, noise)], "base", 0.005, 0.02)[0] == "base"
    clear = 0.70 + lda.MIN_AIR_GAIN
    tied = [BASE, alternative("lower", 0.719, 100.0, clear), alternative("higher", 0.720, 100.0, clear)]
    assert lda.pick(tied, "base", 0.005, 0.02)[0] == "higher"
    failing = [replace(BASE, passed=False), alternative("other", 0.700, 100.0, 0.9, passed=False)]
    assert lda.pick(failing, "base", 0.005, 0.02) == (
        None,
        "nothing proposed: no model alternative passes every blocking verdict within tolerance of the base",
    )


def test_a_negative_base_profit_still_allows_its_tolerance() -> None:
    base = replace(BASE, profit=-100.0)
    picked, _ = lda.pick([base, alternative("fairer", 0.720, -101.0, 0.8)], "base", 0.005, 0.02)
    assert picked == "fairer"
