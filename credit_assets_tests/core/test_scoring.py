"""Decisions, principal reasons from the catalogue, the forecast audit and the notices, on hand-made numbers."""

import numpy as np
import pandas as pd
import pytest

from credit_assets.core import scoring
from credit_assets.core.scoring import NO_REASON, Cutoffs, NoticeSettings

NAMES = ["EXT_SOURCE_3", "EMPLOYED_YEARS", "DAYS_EMPLOYED", "CREDIT_INCOME_RATIO", "EXT_SOURCE_1", "AMT_CREDIT",
         "FLAG_DOCUMENT_3", "FLAG_DOCUMENT_5"]  # fmt: skip
# Contributions per feature and the bias (last column). Families: external scores (EXT_SOURCE_3, EXT_SOURCE_1),
# employment (EMPLOYED_YEARS, DAYS_EMPLOYED), documents (FLAG_DOCUMENT_3, _5), and two of one feature each.
CONTRIBUTIONS = np.array(
    [
        # scores 1.0, employment 0.5, loan/income 0.5, documents 0.06 + 0.06 (each immaterial, material together),
        # credit amount 0.05 (immaterial)
        [0.9, 0.2, 0.3, 0.5, 0.1, 0.05, 0.06, 0.06, -2.0],
        # only the credit amount raises the risk, immaterially: the single largest family is named
        [-0.1, -0.3, -0.2, -0.5, -0.4, 0.05, -0.1, 0.0, 1.0],
        # scores 0.65 led by the missing EXT_SOURCE_1, loan/income 0.2: two reasons
        [0.05, 0.0, 0.0, 0.2, 0.6, 0.0, 0.0, 0.0, -1.0],
        # five material families: loan/income 0.6, documents 0.4, employment 0.3, scores 0.2, credit 0.15 (fifth)
        [0.3, 0.2, 0.1, 0.6, -0.1, 0.15, 0.5, -0.1, -1.0],
    ]
)
VALUES = pd.DataFrame(
    {"EXT_SOURCE_3": [0.1, 0.2, 0.3, 0.1], "EMPLOYED_YEARS": [0.5, 3.0, 1.0, 0.5],
     "DAYS_EMPLOYED": [-200.0, -1000.0, -400.0, -200.0], "CREDIT_INCOME_RATIO": [6.0, 2.0, 5.0, 7.0],
     "EXT_SOURCE_1": [np.nan, 0.7, np.nan, 0.6], "AMT_CREDIT": [5e5, 1e5, 2e5, 9e5],
     "FLAG_DOCUMENT_3": [1.0, 1.0, 0.0, 0.0], "FLAG_DOCUMENT_5": [0.0, 1.0, 0.0, 1.0]}
)  # fmt: skip


def test_reasons_are_one_statement_per_material_family_largest_first() -> None:
    first, second, third, fourth = scoring.principal_reasons(VALUES, NAMES, CONTRIBUTIONS)
    assert first == [
        "External credit score 3 too low",  # the family's statement is its largest member's
        "Short employment history",  # DAYS_EMPLOYED 0.3 + EMPLOYED_YEARS 0.2: one family, one statement
        "Loan amount high relative to income",
        "Documents provided with the application",
    ]
    assert second == ["Amount of credit requested", NO_REASON, NO_REASON, NO_REASON]
    assert third == [
        "External credit score 1: not provided",
        "Loan amount high relative to income",
        NO_REASON,
        NO_REASON,
    ]
    assert fourth == [
        "Loan amount high relative to income",
        "Documents provided with the application",
        "Short employment history",
        "External credit score 3 too low",
    ]
    assert {text for row in (first, second, third, fourth) for text in row} - {
        NO_REASON
    } <= scoring.allowed_statements()


def test_decisions_follow_the_cutoffs_and_refuse_bad_ones() -> None:
    assert list(scoring.decide(np.array([0.05, 0.1, 0.2, 0.25, 0.9]), Cutoffs())) == [
        "approve", "review", "review", "decline", "decline"
    ]  # fmt: skip
    with pytest.raises(ValueError, match="0 < review_cutoff < decline_cutoff < 1"):
        Cutoffs(review_cutoff=0.3, decline_cutoff=0.2)


def forecast_table() -> pd.DataFrame:
    reasons = [["Income too low", NO_REASON, NO_REASON, NO_REASON], [NO_REASON] * 4, ["Gender: M", *[NO_REASON] * 3]]
    table = pd.DataFrame(
        {"SK_ID_CURR": [1, 2, 3], "default_probability": [0.3, 0.05, 0.2], "decision": ["decline", "approve", "review"]}
    )
    for i, column in enumerate(scoring.reason_columns()):
        table[column] = [row[i] for row in reasons]
    return table.assign(model_version="2020-10-abc")


def test_audit_catches_a_reason_outside_the_catalogue_and_an_unexplained_decision() -> None:
    table = forecast_table()
    found = scoring.audit(table, pd.Series([1, 2, 3]))
    assert found.reasons_outside_catalogue == {"Gender: M": 1} and found.adverse_without_reason == 0
    table.loc[0, "reason_1"] = NO_REASON
    assert scoring.audit(table, pd.Series([1, 2, 3])).adverse_without_reason == 1


def test_audit_refuses_two_statements_of_one_family() -> None:
    table = forecast_table().drop(index=2)
    assert scoring.audit(table, pd.Series([1, 2])).verdicts()["adverse_decisions_have_reasons"]
    table.loc[0, ["reason_2", "reason_3"]] = ["External credit scores too low", "External credit score 3 too low"]
    found = scoring.audit(table, pd.Series([1, 2]))
    assert found.repeated_families == 1 and not found.verdicts()["adverse_decisions_have_reasons"]


def test_batch_notices_carry_declines_only_and_nothing_else_personal() -> None:
    notices = scoring.adverse_action_notices(forecast_table(), "2020-10", NoticeSettings())
    assert list(notices.columns) == [
        "SK_ID_CURR", "decision", *scoring.reason_columns(), "model_version", "decision_date", "decided_by",
        "application_date",
    ]  # fmt: skip
    assert notices["SK_ID_CURR"].tolist() == [1] and set(notices["decision_date"]) == {"2020-11-01"}  # no referral
    assert set(notices["decided_by"]) == {"model"} and set(notices["application_date"]) == {""}
    dated = scoring.adverse_action_notices(forecast_table(), "2020-10", NoticeSettings(decision_date="2020-11-03"))
    assert set(dated["decision_date"]) == {"2020-11-03"}
    with pytest.raises(ValueError, match="ISO date"):
        NoticeSettings(decision_date="3 Nov 2020")
