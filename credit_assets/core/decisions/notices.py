"""The notice rule: an adverse-action notice only for a final decline, dated by that decision.

A live application's final decision is its underwriter's when one decided it, else the model's. A referral is no
decision (an underwriter makes it) and gets no notice; an underwriter's approval, of a referral or against an
automatic decline, gets none either. An automatic decline is dated the day it was made (the application's own
day), an underwriter's decline the day the underwriter made it, with the underwriter's statement first. An
application of the month's file that was never decided live keeps the batch's decline, dated by the batch; its
application date is not in the file, so its notice is reported, not judged, by the 30-day rule.
Regulation B (12 CFR 1002.9(a)(1)) gives NOTICE_DAYS from a completed application to the notice of action.
"""

from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd

from credit_assets.core.contract import schema
from credit_assets.core.decisions.log import NOTICE_DAYS, UNDERWRITER_REASONS, notice_deadline
from credit_assets.core.decisions.monitoring import EXAMPLES, FINAL, latest_per_application
from credit_assets.core.scoring import (
    NO_REASON,
    NOTICE_COLUMNS,
    REASON_COUNT,
    NoticeSettings,
    adverse_action_notices,
    reason_columns,
)
from credit_assets.core.verdict import Verdict

ID = schema.ID_COLUMN


def underwriter_reasons(reason_code: str, model_reasons: list[str]) -> list[str]:
    """The underwriter's statement first, then the model's reasons, at most REASON_COUNT, padded to the slots."""
    given = [UNDERWRITER_REASONS[reason_code].statement]
    given += [reason for reason in model_reasons if reason not in (NO_REASON, *given)]
    return given[:REASON_COUNT] + [NO_REASON] * (REASON_COUNT - len(given[:REASON_COUNT]))


def live_notice(row: dict[str, Any]) -> dict[str, Any]:
    """The notice of one live final decline: by the model on its own day, or by the underwriter on theirs."""
    reasons = [row[column] for column in reason_columns()]
    by_underwriter = row["decided_by"] == "underwriter"
    if by_underwriter:
        reasons = underwriter_reasons(row["reason_code"], reasons)
    return {
        ID: row[ID],
        "decision": "decline",
        **dict(zip(reason_columns(), reasons, strict=True)),
        "model_version": row["model_version"],
        "decision_date": (row["underwritten_at"] if by_underwriter else row["decided_at"])[:10],
        "decided_by": row["decided_by"],
        "application_date": row["decided_at"][:10],
    }


def live_notices(table: pd.DataFrame) -> pd.DataFrame:
    """Notices of the live applications whose latest decision ended in a decline."""
    latest = latest_per_application(table)
    declined = latest[latest[FINAL] == "decline"].to_dict(orient="records")
    return pd.DataFrame([live_notice(row) for row in declined], columns=NOTICE_COLUMNS).astype({ID: "int64"})


def month_notices(
    table: pd.DataFrame, forecasts: pd.DataFrame | None, month: str, settings: NoticeSettings
) -> pd.DataFrame:
    """Every final decline of the month: the live ones, then the batch's of applications never decided live."""
    live = live_notices(table)
    if forecasts is None:
        return live
    batch = adverse_action_notices(forecasts[~forecasts[ID].isin(table[ID])], month, settings)
    return pd.concat([live, batch], ignore_index=True) if len(live) else batch


@dataclass(frozen=True)
class Timeliness:
    """Live final declines against their notices, and referrals still waiting, NOTICE_DAYS after the application."""

    as_of: str
    judged: int  # live final declines
    late: int  # noticed after the deadline
    unnoticed: int  # a final decline without its notice
    overdue_referrals: int  # undecided referrals past the deadline
    batch_only: int  # batch declines: no application date, reported not judged
    examples: list[dict[str, Any]]
    notice_days: int = NOTICE_DAYS


def _offender(row: dict[str, Any], problem: str, noticed: str = "") -> dict[str, Any]:
    return {
        "problem": problem,
        "decision_id": row["decision_id"],
        ID: int(row[ID]),
        "application_date": row["decided_at"][:10],
        "deadline": notice_deadline(row["decided_at"]),
        "notice_date": noticed,
    }


def offenders(table: pd.DataFrame, notices: pd.DataFrame, today: date) -> list[dict[str, Any]]:
    """Every live final decline noticed late or not at all, and every referral undecided past its deadline."""
    latest = latest_per_application(table).to_dict(orient="records")
    dated = dict(zip(notices[ID], notices["decision_date"], strict=True))
    found = []
    for row in latest:
        deadline = notice_deadline(row["decided_at"])
        if row[FINAL] == "decline" and row[ID] not in dated:
            found.append(_offender(row, "no notice"))
        elif row[FINAL] == "decline" and dated[row[ID]] > deadline:
            found.append(_offender(row, "notice too late", dated[row[ID]]))
        elif row[FINAL] == "review" and today.isoformat() > deadline:
            found.append(_offender(row, "referral undecided"))
        elif row[FINAL] == "approve" and row["decided_by"] == "underwriter" and row["underwritten_at"][:10] > deadline:
            # Regulation B's 30 days are for notice of any action taken: an approval told late is late too
            found.append(_offender(row, "approval too late", row["underwritten_at"][:10]))
    return found


def timeliness(table: pd.DataFrame, notices: pd.DataFrame, as_of: datetime) -> Timeliness:
    """Judge the month's live decisions and notices at `as_of` (the check's time: a waiting referral ages)."""
    found = offenders(table, notices, as_of.date())
    problems = ("no notice", "notice too late", "approval too late")
    count = {problem: sum(o["problem"] == problem for o in found) for problem in problems}
    return Timeliness(
        as_of=as_of.isoformat(timespec="seconds"),
        judged=int((latest_per_application(table)[FINAL] == "decline").sum()),
        late=count["notice too late"] + count["approval too late"],
        unnoticed=count["no notice"],
        overdue_referrals=sum(o["problem"] == "referral undecided" for o in found),
        batch_only=int((notices["application_date"] == "").sum()),
        examples=found[:EXAMPLES],
    )


def declines_noticed_within_deadline(found: Timeliness) -> Verdict:
    """Fail when a live final decline has no notice within NOTICE_DAYS of its application, or a referral waits
    longer than that for its underwriter."""
    problems = found.late + found.unnoticed + found.overdue_referrals
    told = (
        f"{found.judged} live final decline(s) judged at {found.as_of}: {found.late} noticed more than "
        f"{found.notice_days} days after the application (or approved by an underwriter after them), "
        f"{found.unnoticed} without a notice, "
        f"{found.overdue_referrals} referral(s) undecided after {found.notice_days} days; "
        f"{found.batch_only} batch decline(s) reported, not judged (no application date in the monthly file)"
    )
    return Verdict(not problems, told, figures=asdict(found))
