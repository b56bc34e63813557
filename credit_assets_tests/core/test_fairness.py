"""Fair-lending figures on hand-computed months and the edge cases, without Dagster."""

from typing import Any

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, count, false_positive_rate, selection_rate, true_positive_rate
from sklearn.metrics import roc_auc_score

from credit_assets.core.contract import policy
from credit_assets.core.monitoring import fairness
from credit_assets.core.monitoring.fairness import (
    Fairness,
    FairnessSettings,
    age_bands,
    assess,
    decision_table,
    disparities,
    group_table,
    outcome_table,
)

YOUNG, MIDDLE = -8_000, -15_000  # DAYS_BIRTH of about 21.9 and 41.1 years

# Five women and five men at the default cut-offs (approve < 0.10 <= review < 0.25 <= decline), plus one
# applicant of unknown sex. Flagged = review or decline.
#   F: approve 3/5 = 0.6, default 2/5; defaulters flagged 1/2 (TPR 0.5), non-defaulters flagged 1/3 (FPR 1/3);
#      AUC: 0.09 beats 0.05, 0.08 but not 0.15, 0.30 beats all three -> 5/6.
#   M: approve 2/5 = 0.4, default 2/5; TPR 2/2 = 1, FPR 1/3; AUC 6/6 = 1.
#   Demographic parity (F, M): 0.6 - 0.4 = 0.2, ratio 0.4 / 0.6. Equalised odds: max(|0.5 - 1|, |1/3 - 1/3|) = 0.5.
#   The policy's reference group for sex is M (the customary control group), so the adverse impact ratio is
#   F's against M's: 0.6 / 0.4 = 1.5, and Fisher's one-sided p of F's 3 of 5 approved against M's 2 of 5 being
#   lower is P(X <= 3) = 1 - (25 + 1) / 252 = 226 / 252. Holm over the month's three tests (F; age <25 against
#   35-44, p 0.82; Single against Married, p 0.39): 3 x 0.39 > 1, so every corrected p is 1.
HAND_MADE = pd.DataFrame(
    {
        "default_probability": [0.05, 0.08, 0.09, 0.15, 0.30, 0.04, 0.20, 0.12, 0.40, 0.06, 0.02],
        "decision": [
            "approve",
            "approve",
            "approve",
            "review",
            "decline",
            "approve",
            "review",
            "review",
            "decline",
            "approve",
            "approve",
        ],
        "CODE_GENDER": pd.Categorical(["F"] * 5 + ["M"] * 5 + [None], categories=["F", "M"]),
        "DAYS_BIRTH": [YOUNG] * 5 + [MIDDLE] * 6,
        "NAME_FAMILY_STATUS": ["Married"] * 6 + ["Single / not married"] * 5,
        "TARGET": [0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0],
    }
)
SMALL_GROUPS = FairnessSettings(min_group_size=2)


def assessed(frame: pd.DataFrame, settings: FairnessSettings) -> dict[str, Any]:
    return assess("2020-10", frame, settings).to_dict()


def flagged(result: dict[str, Any]) -> list[str]:
    return disparities(Fairness.from_dict(result))


def groups_of(result: dict[str, Any], attribute: str) -> dict[str, dict[str, Any]]:
    return {group["group"]: group for group in result["attributes"][attribute]["groups"]}


def test_group_figures_match_the_hand_computation() -> None:
    sex = groups_of(assessed(HAND_MADE, SMALL_GROUPS), "sex")
    assert sex["F"] == pytest.approx(
        {"group": "F", "count": 5, "approval_rate": 0.6, "mean_probability": 0.134, "default_rate": 0.4,
         "roc_auc": 5 / 6, "true_positive_rate": 0.5, "false_positive_rate": 1 / 3, "excluded_from_limits": None,
         "adverse_impact_ratio": 1.5, "p_value": 226 / 252, "p_holm": 1.0, "flagged": False}
    )  # fmt: skip
    assert sex["M"] == pytest.approx(
        {"group": "M", "count": 5, "approval_rate": 0.4, "mean_probability": 0.164, "default_rate": 0.4,
         "roc_auc": 1.0, "true_positive_rate": 1.0, "false_positive_rate": 1 / 3, "excluded_from_limits": None,
         "adverse_impact_ratio": 1.0, "p_value": None, "p_holm": None, "flagged": False}
    )  # fmt: skip
    assert sex["unknown"]["count"] == 1
    assert sex["unknown"]["excluded_from_limits"] == "too few to judge (1 < 2)"
    # Too few to judge: its rates are shown, but no p-value and no flag.
    assert sex["unknown"]["approval_rate"] == 1.0 and sex["unknown"]["p_value"] is None


def test_a_ratio_below_four_fifths_is_flagged_only_when_significant() -> None:
    # 200 men approved 150 times (0.75), 200 women 90 times (0.45): AIR 0.45 / 0.75 = 0.6, p far below 0.05.
    n = 200
    frame = pd.DataFrame(
        {
            "default_probability": 0.1,
            "decision": ["approve"] * 150 + ["decline"] * 50 + ["approve"] * 90 + ["decline"] * 110,
            "CODE_GENDER": ["M"] * n + ["F"] * n,
            "DAYS_BIRTH": MIDDLE,
            "NAME_FAMILY_STATUS": "Married",
        }
    )
    result = assessed(frame, FairnessSettings())
    women = groups_of(result, "sex")["F"]
    assert result["attributes"]["sex"]["reference_group"] == "M"
    assert women["adverse_impact_ratio"] == pytest.approx(0.6) and women["p_value"] < 1e-8 and women["flagged"]
    assert women["p_holm"] == women["p_value"]  # the month's only test: a family of one
    # The warning states n, both approval rates, AIR, p and the corrected p.
    assert flagged(result) == [
        f"sex F: n = 200, approved 0.450 against 0.750 for reference M (n = 200), AIR 0.600 < 0.80, "
        f"p = {women['p_value']:.2g}, Holm-corrected p = {women['p_holm']:.2g} < 0.05"
    ]
    # The same ratio on groups of 10 is not significant (p = 0.18): no warning.
    small = pd.concat([frame.iloc[:10].assign(decision=["approve"] * 8 + ["decline"] * 2),
                       frame.iloc[200:210].assign(decision=["approve"] * 5 + ["decline"] * 5)])  # fmt: skip
    result = assessed(small, FairnessSettings(min_group_size=10))
    assert groups_of(result, "sex")["F"]["adverse_impact_ratio"] == pytest.approx(5 / 8)
    assert not groups_of(result, "sex")["F"]["flagged"] and flagged(result) == []


def test_differences_match_the_hand_computation_and_leave_out_small_groups() -> None:
    result = assessed(HAND_MADE, SMALL_GROUPS)
    figures = result["attributes"]["sex"]
    assert figures["demographic_parity_difference"] == pytest.approx(0.2)
    assert figures["demographic_parity_ratio"] == pytest.approx(2 / 3)
    assert figures["equalized_odds_difference"] == pytest.approx(0.5)
    assert result["limits"] == {"min_group_size": 2, "air_limit": 0.8, "significance": 0.05}
    assert flagged(result) == []  # nothing below the limit is significant on five applicants each
    # Counted, the lone always-approved applicant of unknown sex widens parity to 1.0 - 0.4; holding only
    # non-defaulters, it still stays out of equalised odds.
    counted = assessed(HAND_MADE, FairnessSettings(min_group_size=1))["attributes"]["sex"]
    assert counted["demographic_parity_difference"] == pytest.approx(0.6)
    assert counted["equalized_odds_difference"] == pytest.approx(0.5)
    assert counted["reference_group"] == "M"  # the policy's, not the best-approved 'unknown' group


def test_tables_for_people_put_the_group_first_under_short_names_in_two_small_tables() -> None:
    """Readable without sideways scrolling: few columns, short headers, the judged figures apart from the outcomes."""
    groups = assessed(HAND_MADE, FairnessSettings(min_group_size=5))["attributes"]["sex"]["groups"]
    decisions, outcomes = decision_table(groups, 5, "M"), outcome_table(groups, labelled=True)
    assert list(decisions.columns) == ["group", "n", "approved", "AIR", "p", "p (Holm)", "flagged", "note"]
    assert list(outcomes.columns) == ["group", "mean PD", "default", "AUC", "TPR", "FPR"]
    assert list(decisions["group"]) == list(outcomes["group"]) == ["F", "M", "unknown"]
    assert list(decisions["note"]) == ["", "reference", "too few to judge (n < 5)"]
    assert decisions.loc[0, "AIR"] == pytest.approx(1.5) and decisions.loc[0, "p (Holm)"] == 1.0
    assert outcomes.loc[1, "TPR"] == 1.0
    assert list(outcome_table(groups, labelled=False).columns) == ["group", "mean PD"]


def test_age_bands_start_at_the_birthday_and_mark_62() -> None:
    days = pd.Series(
        [-9_131, -9_132, -12_783, -12_784, -22_645, -22_646, -30_000]
    )  # 25 y = 9,131.25 d; 62 y = 22,645.5
    assert age_bands(days).tolist() == ["<25", "25-34", "25-34", "35-44", "55-61", "62+", "62+"]


def test_groups_without_members_are_listed_with_count_zero() -> None:
    ages = groups_of(assessed(HAND_MADE, SMALL_GROUPS), "age_band")
    assert [ages[band]["count"] for band in ("<25", "25-34", "35-44", "45-54", "55-61", "62+")] == [5, 0, 6, 0, 0, 0]
    assert ages["45-54"]["approval_rate"] is None and ages["45-54"]["roc_auc"] is None
    assert ages["45-54"]["excluded_from_limits"] == "no members this month"


def test_marital_status_is_monitored_with_unknown_for_the_placeholder() -> None:
    frame = HAND_MADE.assign(NAME_FAMILY_STATUS=["Married"] * 10 + [None])
    statuses = groups_of(assessed(frame, SMALL_GROUPS), "marital_status")
    assert statuses["Married"]["count"] == 10 and statuses["unknown"]["count"] == 1
    assert "Unknown" not in statuses


def test_single_class_month_has_no_auc_tpr_or_equalised_odds() -> None:
    result = assessed(HAND_MADE.assign(TARGET=0), SMALL_GROUPS)
    figures = result["attributes"]["sex"]
    for group in ("F", "M"):
        assert groups_of(result, "sex")[group]["roc_auc"] is None
        assert groups_of(result, "sex")[group]["true_positive_rate"] is None
    assert groups_of(result, "sex")["F"]["false_positive_rate"] == pytest.approx(0.4)
    assert figures["equalized_odds_difference"] is None
    assert figures["not_evaluated"]["equalized_odds_difference"].startswith("one class only")
    assert figures["demographic_parity_difference"] == pytest.approx(0.2)


def test_unlabelled_month_keeps_demographic_parity_only() -> None:
    result = assessed(HAND_MADE.drop(columns="TARGET"), SMALL_GROUPS)
    figures = result["attributes"]["sex"]
    assert not result["labelled"]
    female = groups_of(result, "sex")["F"]
    assert female["approval_rate"] == pytest.approx(0.6)
    assert all(female[key] is None for key in ("default_rate", "roc_auc", "true_positive_rate", "false_positive_rate"))
    assert figures["demographic_parity_difference"] == pytest.approx(0.2)
    assert figures["not_evaluated"] == {"equalized_odds_difference": "no labels this month"}


def test_one_group_only_evaluates_no_difference() -> None:
    result = assessed(HAND_MADE.assign(CODE_GENDER="F"), SMALL_GROUPS)
    figures = result["attributes"]["sex"]
    assert [g["count"] for g in figures["groups"]] == [11, 0, 0]
    assert figures["demographic_parity_difference"] is None and figures["equalized_odds_difference"] is None
    assert set(figures["not_evaluated"]) == {
        "adverse_impact_ratio",
        "demographic_parity_difference",
        "equalized_odds_difference",
    }
    assert figures["not_evaluated"]["equalized_odds_difference"].startswith("fewer than two groups")
    assert figures["not_evaluated"]["adverse_impact_ratio"] == "reference group M too few to judge (0 < 2)"
    assert flagged(result) == []


def test_group_table_agrees_with_fairlearns_metric_frame() -> None:
    rng = np.random.default_rng(7)
    rows = 5_000
    groups = pd.Series(pd.Categorical(rng.choice(["a", "b", "c"], rows, p=[0.6, 0.3, 0.1]), categories=[*"abcd"]))
    probability = rng.uniform(size=rows)
    labels = (rng.uniform(size=rows) < probability / 2).astype("int64")
    flagged = (probability + rng.normal(0, 0.2, rows) > 0.4).astype("int64")

    ours = group_table(flagged, labels, probability, groups).set_index("group")
    oracle = MetricFrame(
        metrics={
            "count": count,
            "approval_rate": lambda y, p: 1 - selection_rate(y, p),
            "default_rate": lambda y, p: np.mean(y),
            "true_positive_rate": true_positive_rate,
            "false_positive_rate": false_positive_rate,
            "roc_auc": lambda y, p, probability: roc_auc_score(y, probability),
            "mean_probability": lambda y, p, probability: np.mean(probability),
        },
        y_true=labels,
        y_pred=flagged,
        sensitive_features=groups,
        sample_params={name: {"probability": probability} for name in ("roc_auc", "mean_probability")},
    ).by_group

    assert ours.loc["d", "count"] == 0 and ours.loc["d"].drop("count").isna().all()  # absent: listed, undefined
    observed = ours.drop(index="d").astype("float64").set_axis(pd.Index([*"abc"], name="sensitive_feature_0"))
    pd.testing.assert_frame_equal(observed, oracle.astype("float64")[observed.columns], check_index_type=False)


def test_holm_matches_a_hand_worked_example() -> None:
    # Sorted: 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04; kept from falling: 0.06 last.
    assert fairness.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert fairness.holm([0.5, 0.4]) == pytest.approx([0.8, 0.8]) and fairness.holm([]) == []
    assert fairness.holm([0.3, 0.9]) == [0.6, 0.9] and fairness.holm([0.6, 0.7]) == [1.0, 1.0]  # capped at 1


def reference_and_group(reference: tuple[int, int], group: tuple[int, int], **columns: list) -> pd.DataFrame:
    """(applicants, approved) of a reference group and a compared group, as decided applications."""
    decisions = [["approve"] * a + ["decline"] * (n - a) for n, a in (reference, group)]
    return pd.DataFrame({"default_probability": 0.1, "decision": decisions[0] + decisions[1], **columns})


def test_the_reference_group_is_the_policys_control_not_the_months_best() -> None:
    # Widows approve more often than the married (0.9 against 0.6): the married stay the reference.
    frame = reference_and_group((100, 60), (50, 45), CODE_GENDER="M", DAYS_BIRTH=MIDDLE,
                                NAME_FAMILY_STATUS=["Married"] * 100 + ["Widow"] * 50)  # fmt: skip
    figures = assessed(frame, FairnessSettings())["attributes"]["marital_status"]
    widows = {g["group"]: g for g in figures["groups"]}["Widow"]
    assert figures["reference_group"] == "Married" and widows["adverse_impact_ratio"] == pytest.approx(1.5)
    assert fairness.policy_references() == {"sex": "M", "age_band": "35-44", "marital_status": "Married"}


def test_a_policy_without_a_reference_group_or_naming_no_group_is_refused() -> None:
    rules = [policy.PolicyRule("US", "sex, age", ("CODE_GENDER", "DAYS_BIRTH"), "a rule", ("F", "25-34"))]
    with pytest.raises(ValueError, match="names no reference group for marital status"):
        fairness.policy_references(rules)
    with pytest.raises(ValueError, match="reference group 'X' is not one of"):
        assess("2020-10", HAND_MADE, SMALL_GROUPS, {"sex": "X", "age_band": "35-44", "marital_status": "Married"})


def test_groups_of_twenty_are_judged_with_fishers_exact_test_and_smaller_ones_shown_as_too_few() -> None:
    # Under-25s approved 4 of 20 (0.2) against the 35-44 reference's 160 of 200 (0.8): AIR 0.25, p = 1.1e-7.
    frame = reference_and_group((200, 160), (20, 4), CODE_GENDER="M", NAME_FAMILY_STATUS="Married",
                                DAYS_BIRTH=[MIDDLE] * 200 + [YOUNG] * 20)  # fmt: skip
    young = groups_of(assessed(frame, FairnessSettings()), "age_band")["<25"]
    assert fairness.MIN_GROUP_SIZE == FairnessSettings().min_group_size == 20
    assert young["p_value"] == pytest.approx(1.078e-7, rel=1e-3) and young["flagged"]
    assert young["adverse_impact_ratio"] == pytest.approx(0.25)
    nineteen = groups_of(assessed(frame.iloc[:-1], FairnessSettings()), "age_band")["<25"]
    assert nineteen["excluded_from_limits"] == "too few to judge (19 < 20)" and not nineteen["flagged"]
    assert nineteen["approval_rate"] == pytest.approx(4 / 19) and nineteen["p_value"] is None


def test_holm_across_all_attributes_turns_off_a_gap_significant_only_alone() -> None:
    # Women approved 18 of 30 (0.6) against men's 80 of 100 (0.8): AIR 0.75, Fisher's p = 0.026. Alone in the
    # month's family it warns; with three more tests (unknown sex, Single and Civil marriage, all approved more
    # often than their references, p = 1) Holm multiplies the smallest p by 4: 0.104, no warning.
    frame = reference_and_group((100, 80), (30, 18), CODE_GENDER=["M"] * 100 + ["F"] * 30,
                                DAYS_BIRTH=MIDDLE, NAME_FAMILY_STATUS="Married")  # fmt: skip
    alone = groups_of(assessed(frame, FairnessSettings()), "sex")["F"]
    assert alone["p_value"] == pytest.approx(0.02606, rel=1e-3) and alone["p_holm"] == alone["p_value"]
    assert alone["flagged"]
    statuses = ["Single / not married", "Civil marriage"] * 30
    approved = pd.DataFrame(
        {"default_probability": 0.1, "decision": "approve", "CODE_GENDER": None, "DAYS_BIRTH": MIDDLE,
         "NAME_FAMILY_STATUS": statuses}
    )  # fmt: skip
    result = assessed(pd.concat([frame, approved], ignore_index=True), FairnessSettings())
    women = groups_of(result, "sex")["F"]
    assert women["p_value"] == pytest.approx(alone["p_value"])
    assert women["p_holm"] == pytest.approx(4 * women["p_value"])
    assert not women["flagged"] and flagged(result) == []
