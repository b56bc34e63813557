"""The underwriters' queue as the pages show it: each referral's age, notice deadline and the applicant's facts,
read from the decision log's logged inputs and never a protected attribute or a proxy the model leaves out."""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from credit_assets.core.contract import schema
from credit_assets.core.decisions.log import (
    UNDERWRITER_REASONS,
    LiveDecision,
    UnderwriterReason,
    Underwriting,
    notice_deadline,
)

DECISION_ID = re.compile(r"[0-9a-f]{32}")  # uuid4().hex, as the log makes them
APPLICATION_ID = re.compile(r"[0-9]{1,18}")  # SK_ID_CURR; 18 digits always fit the log's 64-bit column
FINAL_DECISIONS = ("approve", "decline")
DEADLINE_WARNING_DAYS = 7  # a referral this close to its notice deadline is flagged: decide it first
NOT_EMPLOYED = schema.SENTINELS["DAYS_EMPLOYED"]
KEY_FACTS = (  # (column, label) in the order the queue shows them
    ("AMT_CREDIT", "Credit"),
    ("AMT_ANNUITY", "Annuity"),
    ("AMT_GOODS_PRICE", "Goods price"),
    ("AMT_INCOME_TOTAL", "Income"),
    ("NAME_CONTRACT_TYPE", "Contract"),
    ("DAYS_EMPLOYED", "Employed"),
    ("EXT_SOURCE_1", "External score 1"),
    ("EXT_SOURCE_2", "External score 2"),
    ("EXT_SOURCE_3", "External score 3"),
)


@dataclass(frozen=True)
class Fact:
    """One of the applicant's facts as the page shows it."""

    column: str
    label: str
    value: str
    hint: str = ""  # the factor's name on a notice, where the label is the column's


@dataclass(frozen=True)
class Referral:
    """A logged automatic decision as an underwriter reads it."""

    decision_id: str
    application_id: int
    received: str
    age: str
    probability: str
    automatic: str
    reasons: tuple[str, ...]
    model_version: str
    deadline: str
    days_left: int
    old: bool
    near_deadline: bool
    facts: tuple[Fact, ...]


@dataclass(frozen=True)
class Queue:
    """The pending referrals, oldest first, and the counts shown above them."""

    referrals: tuple[Referral, ...]
    old: int
    near_deadline: int
    alert_hours: int
    capped: bool  # more referrals wait than the page lists


def shown_columns() -> list[schema.Column]:
    """What an underwriter may see: the model's inputs, never a protected attribute (checked again by name, so a
    contract change that made one an input could not put it on the page)."""
    protected = {column.name for column in schema.protected_columns()}
    return [column for column in schema.input_columns() if column.name not in protected]


def _number(value: float) -> str:
    """Whole numbers as such, amounts to the cent, small fractions (scores, rates) to four significant digits."""
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}" if abs(value) >= 100 else f"{value:.4g}"


def employment(days: object) -> str:
    """DAYS_EMPLOYED in years; the sentinel in neutral words (it marks pensioners too, whose income counts)."""
    if days is None:
        return "missing"
    if days == NOT_EMPLOYED:
        return "none recorded"
    return f"{-float(days) / 365.25:.1f} years"


def shown_value(column: str, value: object) -> str:
    """A logged input as text: numbers as _number writes them, missing said so, text bounded."""
    if column == "DAYS_EMPLOYED":
        return employment(value)
    if value is None:
        return "missing"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)[:80]
    return _number(value)


def facts(inputs: dict[str, object], columns: list[tuple[str, str]]) -> tuple[Fact, ...]:
    return tuple(Fact(name, label, shown_value(name, inputs.get(name))) for name, label in columns)


def key_facts(decision: LiveDecision) -> tuple[Fact, ...]:
    return facts(decision.inputs, list(KEY_FACTS))


def all_facts(decision: LiveDecision) -> tuple[Fact, ...]:
    """Every input an underwriter may see, by column name (factors repeat across a family of columns)."""
    return tuple(
        Fact(c.name, c.name, shown_value(c.name, decision.inputs.get(c.name)), c.reason.factor if c.reason else "")
        for c in shown_columns()
    )


def age_text(seconds: float) -> str:
    minutes = max(int(seconds // 60), 0)
    days, hours = divmod(minutes // 60, 24)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes % 60} min" if hours else f"{minutes} min"


def received_text(decided_at: str) -> str:
    return datetime.fromisoformat(decided_at).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def referral(decision: LiveDecision, now: datetime, alert_hours: int, full: bool = False) -> Referral:
    """The decision as the queue or its own page shows it, aged and flagged as of `now`."""
    waited = (now - datetime.fromisoformat(decision.decided_at)).total_seconds()
    deadline = notice_deadline(decision.decided_at)
    days_left = (date.fromisoformat(deadline) - now.date()).days
    return Referral(
        decision_id=decision.decision_id,
        application_id=decision.application_id,
        received=received_text(decision.decided_at),
        age=age_text(waited),
        probability=f"{100 * decision.probability:.1f} %",
        automatic=decision.decision,
        reasons=decision.reasons,
        model_version=decision.model_version,
        deadline=deadline,
        days_left=days_left,
        old=waited >= alert_hours * 3600,
        near_deadline=days_left <= DEADLINE_WARNING_DAYS,
        facts=all_facts(decision) if full else key_facts(decision),
    )


def queue(pending: list[LiveDecision], now: datetime, alert_hours: int, limit: int) -> Queue:
    referrals = tuple(referral(decision, now, alert_hours) for decision in pending)
    return Queue(
        referrals=referrals,
        old=sum(r.old for r in referrals),
        near_deadline=sum(r.near_deadline for r in referrals),
        alert_hours=alert_hours,
        capped=len(referrals) >= limit,
    )


def reasons_by_decision() -> dict[str, list[UnderwriterReason]]:
    """The reason codes grouped by the final decision they fit, for the form's option groups."""
    return {final: [r for r in UNDERWRITER_REASONS.values() if r.final_decision == final] for final in FINAL_DECISIONS}


def offered_decisions(automatic: str) -> tuple[str, ...]:
    """A referral may go either way; an automatic approve or decline only the other way (an override)."""
    return FINAL_DECISIONS if automatic == "review" else tuple(d for d in FINAL_DECISIONS if d != automatic)


def recorded(entry: Underwriting, application_id: int) -> str:
    """The confirmation the queue shows after a decision."""
    what = "approved" if entry.final_decision == "approve" else "declined"
    override = f" (override of the automatic {entry.automatic_decision})" if entry.override else ""
    label = UNDERWRITER_REASONS[entry.reason_code].label
    return f"Recorded: application {application_id} {what}{override}, reason: {label}."
