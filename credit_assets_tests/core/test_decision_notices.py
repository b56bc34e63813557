"""The notice rule and the override report on a handful of hand-made live decisions (no database, no Dagster)."""

from datetime import UTC, datetime

import pandas as pd

from credit_assets.core.decisions import monitoring, notices
from credit_assets.core.decisions.log import UNDERWRITER_REASONS, LiveDecision, Underwriting
from credit_assets.core.scoring import NoticeSettings

MODEL_REASONS = ("External credit scores too low", "Credit amount too high for the income")


def live(number: int, decision: str, day: int) -> LiveDecision:
    reasons = MODEL_REASONS if decision != "approve" else ()
    return LiveDecision(
        f"d{number}", f"2020-10-{day:02d}T10:00:00.000000+00:00", number, "sha", {}, 0.2, decision, reasons, "v1", "t"
    )


def underwritten(decision: LiveDecision, final: str, code: str, day: str) -> Underwriting:
    return Underwriting(decision.decision_id, f"{day}T12:00:00.000000+00:00", "uw", final, code, "", decision.decision)


DECIDED = [live(1, "decline", 2), live(2, "review", 3), live(3, "review", 4), live(4, "approve", 5)]
DECIDED += [live(5, "decline", 6), live(6, "review", 7)]
UNDERWRITTEN = {
    "d2": underwritten(DECIDED[1], "approve", "income_verified", "2020-10-10"),
    "d3": underwritten(DECIDED[2], "decline", "income_not_verified", "2020-11-20"),  # 47 days after the application
    "d4": underwritten(DECIDED[3], "decline", "excessive_obligations", "2020-10-12"),
    "d5": underwritten(DECIDED[4], "approve", "compensating_factors", "2020-10-12"),
}
TABLE = monitoring.month_table(DECIDED, UNDERWRITTEN)


def test_only_final_declines_get_a_notice_dated_by_their_decision() -> None:
    batch = pd.DataFrame(
        {"SK_ID_CURR": [1, 7, 8], "decision": ["decline", "decline", "review"], "model_version": "v1"}
    ).assign(**{f"reason_{i}": "" for i in range(1, 5)}, default_probability=0.3)
    found = notices.month_notices(TABLE, batch, "2020-10", NoticeSettings()).set_index("SK_ID_CURR")
    assert list(found.index) == [1, 3, 4, 7]  # no referral, no approval (by model or underwriter), 1 not twice
    assert found.loc[1, ["decision_date", "decided_by", "application_date"]].tolist() == [
        "2020-10-02", "model", "2020-10-02"
    ]  # fmt: skip
    assert found.loc[3, ["decision_date", "decided_by"]].tolist() == ["2020-11-20", "underwriter"]
    statement = UNDERWRITER_REASONS["excessive_obligations"].statement
    assert found.loc[4, ["reason_1", "reason_2"]].tolist() == [statement, ""]  # an approval carried no model reason
    assert found.loc[3, ["reason_1", "reason_2", "reason_3"]].tolist()[1:] == list(MODEL_REASONS)
    assert found.loc[7, ["decision_date", "application_date"]].tolist() == ["2020-11-01", ""]


def test_a_late_decline_and_a_waiting_referral_are_named() -> None:
    made = notices.month_notices(TABLE, None, "2020-10", NoticeSettings())
    found = notices.timeliness(TABLE, made, datetime(2020, 11, 20, tzinfo=UTC))
    assert (found.judged, found.late, found.unnoticed, found.overdue_referrals) == (3, 1, 0, 1)
    assert {e["decision_id"]: e["problem"] for e in found.examples} == {
        "d3": "notice too late",
        "d6": "referral undecided",
    }
    assert not notices.declines_noticed_within_deadline(found).passed
    early = notices.timeliness(TABLE, made, datetime(2020, 11, 1, tzinfo=UTC))
    assert early.overdue_referrals == 0 and early.late == 1  # a referral ages; a late notice stays late


def test_the_override_report_counts_by_reason_and_group() -> None:
    validated = pd.DataFrame(
        {
            "CODE_GENDER": ["F", "M", "F", "F", "M", "M"],
            "DAYS_BIRTH": [-365.25 * 30] * 4 + [-365.25 * 70] * 2,
            "NAME_FAMILY_STATUS": ["Married"] * 6,
        }
    )
    report = monitoring.override_report(TABLE, validated)
    assert (report.automatic, report.overrides, report.referrals, report.referrals_decided) == (3, 2, 3, 2)
    by_reason = {row["reason_code"]: row["overrides"] for row in report.by_reason}
    assert by_reason == {
        "compensating_factors": 1,
        "excessive_obligations": 1,
        "income_not_verified": 0,
        "income_verified": 0,
    }
    sex = {row["group"]: (row["overrides"], row["automatic"]) for row in report.by_group["sex"]}
    assert sex["F"] == (1, 2) and sex["M"] == (1, 1)
    ages = {row["group"]: row["overrides"] for row in report.by_group["age_band"]}
    assert ages["62+"] == 1 and ages["25-34"] == 1


def test_an_underwriter_approval_after_the_deadline_is_late_too() -> None:
    """Regulation B's 30 days are for notice of any action taken on the application, an approval included."""
    referral = live(9, "review", 1)
    table = monitoring.month_table(
        [referral], {"d9": underwritten(referral, "approve", "income_verified", "2020-11-05")}
    )
    made = notices.month_notices(table, None, "2020-10", NoticeSettings())
    found = notices.timeliness(table, made, datetime(2020, 11, 6, tzinfo=UTC))
    assert len(made) == 0 and found.late == 1
    assert found.examples[0]["problem"] == "approval too late" and found.examples[0]["notice_date"] == "2020-11-05"
