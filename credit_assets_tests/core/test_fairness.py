"""Fairness figures on a hand-computed month and the edge cases, without Dagster."""

from typing import Any

import pandas as pd
import pytest

from credit_assets.core.monitoring.fairness import Fairness, FairnessSettings, age_bands, assess, limit_breaches

YOUNG, MIDDLE = -8_000, -15_000  # DAYS_BIRTH of about 21.9 and 41.1 years

# Five women and five men at the default cut-offs (approve < 0.10 <= review < 0.25 <= decline), plus one
# applicant of unknown gender. Flagged = review or decline.
#   F: approve 3/5 = 0.6, default 2/5; defaulters flagged 1/2 (TPR 0.5), non-defaulters flagged 1/3 (FPR 1/3);
#      AUC: 0.09 beats 0.05, 0.08 but not 0.15, 0.30 beats all three -> 5/6.
#   M: approve 2/5 = 0.4, default 2/5; TPR 2/2 = 1, FPR 1/3; AUC 6/6 = 1.
#   Demographic parity (F, M): 0.6 - 0.4 = 0.2, ratio 0.4 / 0.6. Equalised odds: max(|0.5 - 1|, |1/3 - 1/3|) = 0.5.
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
        "TARGET": [0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0],
    }
)
SMALL_GROUPS = FairnessSettings(min_group_size=2)


def assessed(frame: pd.DataFrame, settings: FairnessSettings) -> dict[str, Any]:
    return assess("2020-10", frame, settings).to_dict()


def breaches(result: dict[str, Any]) -> list[str]:
    return limit_breaches(Fairness.from_dict(result))


def groups_of(result: dict[str, Any], attribute: str) -> dict[str, dict[str, Any]]:
    return {group["group"]: group for group in result["attributes"][attribute]["groups"]}


def test_group_figures_match_the_hand_computation() -> None:
    gender = groups_of(assessed(HAND_MADE, SMALL_GROUPS), "gender")
    assert gender["F"] == pytest.approx(
        {"group": "F", "count": 5, "approval_rate": 0.6, "mean_probability": 0.134, "default_rate": 0.4,
         "roc_auc": 5 / 6, "true_positive_rate": 0.5, "false_positive_rate": 1 / 3, "excluded_from_limits": None}
    )  # fmt: skip
    assert gender["M"] == pytest.approx(
        {"group": "M", "count": 5, "approval_rate": 0.4, "mean_probability": 0.164, "default_rate": 0.4,
         "roc_auc": 1.0, "true_positive_rate": 1.0, "false_positive_rate": 1 / 3, "excluded_from_limits": None}
    )  # fmt: skip
    assert gender["unknown"]["count"] == 1
    assert gender["unknown"]["excluded_from_limits"] == "count 1 < min_group_size 2"


def test_differences_match_the_hand_computation_and_leave_out_small_groups() -> None:
    result = assessed(HAND_MADE, SMALL_GROUPS)
    figures = result["attributes"]["gender"]
    assert figures["demographic_parity_difference"] == pytest.approx(0.2)
    assert figures["demographic_parity_ratio"] == pytest.approx(2 / 3)
    assert figures["equalized_odds_difference"] == pytest.approx(0.5)
    assert result["limits"] == {
        "max_demographic_parity_difference": 0.1,
        "max_equalized_odds_difference": 0.1,
        "min_group_size": 2,
    }
    assert "gender demographic_parity_difference 0.2000 > limit 0.1000" in breaches(result)
    assert "gender equalized_odds_difference 0.5000 > limit 0.1000" in breaches(result)
    # Counted, the lone always-approved applicant of unknown gender widens parity to 1.0 - 0.4; holding only
    # non-defaulters, it still stays out of equalised odds.
    counted = assessed(HAND_MADE, FairnessSettings(min_group_size=1))["attributes"]["gender"]
    assert counted["demographic_parity_difference"] == pytest.approx(0.6)
    assert counted["equalized_odds_difference"] == pytest.approx(0.5)
    relaxed = FairnessSettings(
        max_demographic_parity_difference=0.7, max_equalized_odds_difference=0.7, min_group_size=2
    )
    assert breaches(assessed(HAND_MADE, relaxed)) == []


def test_age_bands_start_at_the_birthday() -> None:
    days = pd.Series(
        [-9_131, -9_132, -12_783, -12_784, -23_741, -23_742, -30_000]
    )  # 25 years = 9,131.25 days, 35 = 12,783.75
    assert age_bands(days).tolist() == ["<25", "25-34", "25-34", "35-44", "55-64", "65+", "65+"]


def test_groups_without_members_are_listed_with_count_zero() -> None:
    ages = groups_of(assessed(HAND_MADE, SMALL_GROUPS), "age_band")
    assert [ages[band]["count"] for band in ("<25", "25-34", "35-44", "45-54", "55-64", "65+")] == [5, 0, 6, 0, 0, 0]
    assert ages["45-54"]["approval_rate"] is None and ages["45-54"]["roc_auc"] is None
    assert ages["45-54"]["excluded_from_limits"] == "no members this month"


def test_single_class_month_has_no_auc_tpr_or_equalised_odds() -> None:
    result = assessed(HAND_MADE.assign(TARGET=0), SMALL_GROUPS)
    figures = result["attributes"]["gender"]
    for group in ("F", "M"):
        assert groups_of(result, "gender")[group]["roc_auc"] is None
        assert groups_of(result, "gender")[group]["true_positive_rate"] is None
    assert groups_of(result, "gender")["F"]["false_positive_rate"] == pytest.approx(0.4)
    assert figures["equalized_odds_difference"] is None
    assert figures["not_evaluated"]["equalized_odds_difference"].startswith("one class only")
    assert figures["demographic_parity_difference"] == pytest.approx(0.2)


def test_unlabelled_month_keeps_demographic_parity_only() -> None:
    result = assessed(HAND_MADE.drop(columns="TARGET"), SMALL_GROUPS)
    figures = result["attributes"]["gender"]
    assert not result["labelled"]
    female = groups_of(result, "gender")["F"]
    assert female["approval_rate"] == pytest.approx(0.6)
    assert all(female[key] is None for key in ("default_rate", "roc_auc", "true_positive_rate", "false_positive_rate"))
    assert figures["demographic_parity_difference"] == pytest.approx(0.2)
    assert figures["not_evaluated"] == {"equalized_odds_difference": "no labels this month"}


def test_one_group_only_evaluates_no_difference() -> None:
    result = assessed(HAND_MADE.assign(CODE_GENDER="F"), SMALL_GROUPS)
    figures = result["attributes"]["gender"]
    assert [g["count"] for g in figures["groups"]] == [11, 0, 0]
    assert figures["demographic_parity_difference"] is None and figures["equalized_odds_difference"] is None
    assert set(figures["not_evaluated"]) == {"demographic_parity_difference", "equalized_odds_difference"}
    assert all(reason.startswith("fewer than two groups") for reason in figures["not_evaluated"].values())
    assert not [breach for breach in breaches(result) if breach.startswith("gender")]
