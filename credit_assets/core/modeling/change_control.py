"""Model change control (SR 11-7): which results trigger work, when a month develops candidates, and who lets a
candidate become champion.

Everything is read from and written to the registry's append-only promotion log, in three kinds of entry:
- `month`: the decision of a scored month: the triggers found, whether candidates were developed (with the search
  for a less discriminatory alternative), the candidate proposed and its approval status, and the champion in
  force that scores the month;
- `trigger`: a monitoring result of a month (drift, AUC decay, calibration in the large, fairness) that asks for a
  review; the next month's model acts on it;
- `approval`: a `model_risk` user's approval or rejection of a proposed candidate, with the comment.
The champion in force is whatever the log says was approved last; nothing else makes a champion.
"""

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
from scipy import stats

from credit_assets.core.modeling.settings import ModelSettings
from credit_assets.core.monitoring import drift as core_drift
from credit_assets.core.monitoring import fairness as core_fairness
from credit_assets.core.monitoring.drift import Drift
from credit_assets.core.monitoring.fairness import Fairness
from credit_assets.core.monitoring.performance import Performance, in_the_large_text
from credit_assets.core.months import month_sequence, months_between
from credit_assets.core.verdict import Severity

MONTH, TRIGGER, APPROVAL = "month", "trigger", "approval"
APPROVE, REJECT = "approve", "reject"
AWAITING, APPROVED, NOT_REQUIRED = "awaiting approval", "approved", "no approval required"
MODEL_RISK_ROLE = "model_risk"
MAX_COMMENT = 2_000
MIN_COMMENT = 10  # "ok" is not a reason a validator can be held to


class ApprovalRefused(ValueError):
    """An approval or rejection the log does not take; the message says why."""


@dataclass(frozen=True)
class Trigger:
    """A reason to develop candidates: what fired, for which month, in words, with the evidence."""

    kind: str  # no_champion, scheduled_review, drift, auc_decay, calibration, fairness
    month: str
    description: str
    evidence: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Trigger":
        return cls(data["kind"], data["month"], data["description"], data.get("evidence", {}))


@dataclass(frozen=True)
class ReviewSettings:
    """When a month's monitoring asks for a review: AUC decay beyond `auc_decay_tolerance` that the month's
    defaults can tell (one-sided at `significance`), calibration in the large failing, a critical drift of an
    important feature, or a significant disparity `fairness_tolerance` worse than the champion's documented one."""

    auc_decay_tolerance: float = 0.03
    significance: float = 0.05
    fairness_tolerance: float = 0.05

    def __post_init__(self) -> None:
        if self.auc_decay_tolerance <= 0 or not 0 < self.significance < 1 or self.fairness_tolerance < 0:
            raise ValueError("need auc_decay_tolerance > 0, 0 < significance < 1 and fairness_tolerance >= 0")


@dataclass(frozen=True)
class ChampionState:
    """What the promotion log says now: the champion in force, how it was approved, a candidate awaiting approval,
    and the monitoring triggers recorded since the last development."""

    champion: str | None = None
    developed: dict[str, Any] | None = None  # the month entry that proposed the champion
    approval: dict[str, Any] | None = None  # how it became champion
    pending: dict[str, Any] | None = None  # the month entry whose proposal awaits a model_risk decision
    open_triggers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def champion_month(self) -> str | None:
        """The month the champion was developed for."""
        return self.developed["month"] if self.developed else None


def kind(entry: dict[str, Any]) -> str:
    """An entry's kind; entries written before change control are month decisions."""
    return entry.get("kind", MONTH)


def _legacy(state: ChampionState, entry: dict[str, Any]) -> ChampionState:
    """A month decision from before change control: its champion took effect at once, approved by nobody."""
    if not entry.get("champion") or entry["champion"] == state.champion:
        return state
    approval = {"status": NOT_REQUIRED, "rule": "before change control", "by": None}
    return ChampionState(entry["champion"], entry, approval, state.pending, state.open_triggers)


def _month(state: ChampionState, entry: dict[str, Any]) -> ChampionState:
    review = entry.get("review")
    if review is None:
        return _legacy(state, entry)
    if not review["developed"]:
        return state
    proposed, approval = entry.get("proposed"), entry.get("approval") or {}
    if proposed is None:  # nothing passed: no candidate, the champion stays
        return ChampionState(state.champion, state.developed, state.approval, None, [])
    if approval.get("status") == AWAITING:
        return ChampionState(state.champion, state.developed, state.approval, entry, [])
    return ChampionState(proposed, entry, approval, None, [])


def _approval(state: ChampionState, entry: dict[str, Any]) -> ChampionState:
    if state.pending is None or entry["version"] != state.pending["proposed"]:
        return state
    if entry["decision"] == APPROVE:
        return ChampionState(entry["version"], state.pending, entry, None, state.open_triggers)
    return ChampionState(state.champion, state.developed, state.approval, None, state.open_triggers)


def _step(state: ChampionState, entry: dict[str, Any]) -> ChampionState:
    """The state after one more entry."""
    if kind(entry) == TRIGGER:
        return ChampionState(
            state.champion, state.developed, state.approval, state.pending, [*state.open_triggers, entry]
        )
    if kind(entry) == APPROVAL:
        return _approval(state, entry)
    return _month(state, entry)


def fold(entries: Sequence[dict[str, Any]]) -> ChampionState:
    """The state after every entry of the log, oldest first."""
    state = ChampionState()
    for entry in entries:
        state = _step(state, entry)
    return state


@dataclass(frozen=True)
class MonthRecord:
    """A month decision as the promotion log holds it, read back typed: the champion that scores the month, the
    candidates beside it, the review and proposal, and who or what started the run. Records written before change
    control lack the review, the proposal and the approvals (None)."""

    month: str
    champion: str | None
    rule: str
    candidates: list[dict[str, Any]]
    sequence: int
    decided_at: str
    trigger: dict[str, Any]
    review: dict[str, Any] | None = None
    proposed: str | None = None
    approval: dict[str, Any] | None = None  # the proposal's approval status
    champion_approval: dict[str, Any] | None = None  # how the champion that scores the month became champion
    approval_rule: str | None = None
    lda: dict[str, Any] | None = None
    entry: dict[str, Any] = field(default_factory=dict, repr=False)  # the log's entry as written, seals included

    @classmethod
    def of(cls, entry: dict[str, Any]) -> "MonthRecord":
        typed = {name: entry.get(name) for name in cls.__dataclass_fields__ if name != "entry"}
        return cls(**typed, entry=entry)

    @property
    def why(self) -> str:
        """Why the month has the champion it has."""
        return (self.review or {}).get("why") or f"rule {self.rule!r} promoted it at once"

    @property
    def awaiting(self) -> bool:
        """Whether the month's proposal awaits a model_risk decision."""
        return (self.approval or {}).get("status") == AWAITING


def month_decision(entries: Sequence[dict[str, Any]], month: str) -> MonthRecord | None:
    """The newest month decision for `month`, or None."""
    found = [entry for entry in entries if kind(entry) == MONTH and entry["month"] == month]
    return MonthRecord.of(found[-1]) if found else None


def proposal_of(entries: Sequence[dict[str, Any]], version: str) -> dict[str, Any] | None:
    """The month decision that developed and proposed `version`, if one did."""
    found = [entry for entry in entries if kind(entry) == MONTH and entry.get("proposed") == version]
    return found[-1] if found else None


def documented_air(proposal: dict[str, Any] | None) -> dict[str, float | None]:
    """The adverse impact ratio of every group that the LDA search documented for a proposed champion."""
    return ((proposal or {}).get("lda") or {}).get("picked_air", {})


def trigger_entry(month: str, triggers: list[Trigger], entries: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The log entry recording a month's monitoring triggers; None when there are none or the newest entry for the
    month already says the same (a re-run of the month's monitoring)."""
    if not triggers:
        return None
    recorded = [asdict(trigger) for trigger in triggers]
    earlier = [entry for entry in entries if kind(entry) == TRIGGER and entry["month"] == month]
    if earlier and earlier[-1]["triggers"] == recorded:
        return None
    return {"kind": TRIGGER, "month": month, "triggers": recorded, "recorded_at": _now()}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Reign:
    """One champion's time in force and why it is champion: the development that proposed it and its approval."""

    version: str
    developed_for: str
    triggers: list[str]
    lda_pick: str
    approval: dict[str, Any]
    since: str  # when it took effect

    def why(self) -> str:
        """The reason in one paragraph, as `credit-assets models` prints it."""
        triggers = ", ".join(self.triggers) or "none recorded"
        search = self.lda_pick or "not run (developed before change control)"
        return (
            f"{self.version}: developed for {self.developed_for} (triggers: {triggers}); LDA search: {search}; "
            f"{approval_text(self.approval)}; in force since {self.since}"
        )


def approval_text(approval: dict[str, Any]) -> str:
    """How a champion was approved, in words: a person with their comment, a rule within limits, or nobody."""
    if approval.get("kind") == APPROVAL:
        comment = f': "{approval["comment"]}"' if approval.get("comment") else ""
        return f"approved by {approval['by']} ({approval.get('role')}) at {approval.get('decided_at')}{comment}"
    if approval.get("status") == APPROVED:
        return f"approved automatically under rule {approval.get('rule')!r}: {approval.get('reason')}"
    return f"no approval (rule {approval.get('rule', 'unknown')!r}: {approval.get('reason', 'none recorded')})"


def reigns(entries: Sequence[dict[str, Any]]) -> list[Reign]:
    """Every champion in the order they took effect, each with why it became champion."""
    found: list[Reign] = []
    state = ChampionState()
    for entry in entries:
        before = state.champion
        state = _step(state, entry)
        if state.champion and state.champion != before:
            proposal = state.developed or {}
            review, lda = proposal.get("review") or {}, proposal.get("lda") or {}
            found.append(
                Reign(
                    state.champion,
                    proposal.get("month", "?"),
                    [trigger["kind"] for trigger in review.get("triggers", [])],
                    f"{lda.get('picked')}: {lda.get('reason')}" if lda else "",
                    state.approval or {},
                    entry.get("decided_at") or entry.get("recorded_at") or "?",
                )
            )
    return found


def in_force_for(
    month: str, entries: Sequence[dict[str, Any]], state: ChampionState, trained_until: Callable[[str], str]
) -> ChampionState:
    """The state as month M sees it: the newest champion whose deployed model learned only from months before M (a
    backfill of an earlier month never uses a model that learned its labels), or none."""
    if state.champion is None or trained_until(state.champion) < month:
        return state
    eligible = [reign for reign in reigns(entries) if trained_until(reign.version) < month]
    if not eligible:
        return replace(state, champion=None, developed=None, approval=None)
    return replace(
        state,
        champion=eligible[-1].version,
        developed=proposal_of(entries, eligible[-1].version),
        approval=eligible[-1].approval,
    )


@dataclass(frozen=True)
class Plan:
    """What month M's model step does: develop candidates or keep the champion, and why."""

    month: str
    triggers: list[Trigger]
    develop: bool
    why: str
    next_scheduled_review: str | None

    def review(self) -> dict[str, Any]:
        """The month entry's `review` field."""
        return {
            "triggers": [asdict(trigger) for trigger in self.triggers],
            "developed": self.develop,
            "why": self.why,
            "next_scheduled_review": self.next_scheduled_review,
        }


def scheduled_review(month: str, state: ChampionState, settings: ModelSettings) -> Trigger | None:
    """The review due when the champion was developed `review_every_months` or more months before `month`."""
    if state.champion_month is None:
        return None
    age = months_between(state.champion_month, month)
    if settings.review_every_months == 0:
        return Trigger("scheduled_review", month, "review_every_months 0: every run develops candidates")
    if age < settings.review_every_months:
        return None
    return Trigger(
        "scheduled_review",
        month,
        f"champion {state.champion} was developed for {state.champion_month}, {age} months before {month}: "
        f"the review every {settings.review_every_months} months is due",
        {"champion": state.champion, "developed_for": state.champion_month, "months": age},
    )


def next_review(state: ChampionState, settings: ModelSettings) -> str | None:
    if state.champion_month is None:
        return None
    return month_sequence(state.champion_month, settings.review_every_months + 1)[-1]


def plan_month(month: str, state: ChampionState, settings: ModelSettings) -> Plan:
    """Develop when a trigger fires and no candidate awaits approval; otherwise the champion in force scores."""
    triggers = [
        Trigger.from_dict(t) for entry in state.open_triggers if entry["month"] < month for t in entry["triggers"]
    ]
    if state.champion is None and state.pending is None:
        triggers.insert(0, Trigger("no_champion", month, "no champion has been approved yet: candidates are developed"))
    scheduled = scheduled_review(month, state, settings)
    triggers += [scheduled] if scheduled else []
    upcoming = next_review(state, settings)
    if state.champion is None and state.pending is not None:
        waiting = f"{state.pending['proposed']} (developed for {state.pending['month']})"
        return Plan(month, triggers, False, f"no champion in force: candidate {waiting} awaits approval", upcoming)
    if not triggers:
        return Plan(month, [], False, f"no trigger: champion {state.champion} keeps scoring", upcoming)
    if state.pending is not None:
        waiting = f"{state.pending['proposed']} (developed for {state.pending['month']})"
        return Plan(month, triggers, False, f"triggers recorded; candidate {waiting} still awaits approval", upcoming)
    fired = ", ".join(trigger.kind for trigger in triggers)
    return Plan(month, triggers, True, f"developed: {fired}", upcoming)


def approval_status(settings: ModelSettings, limits: dict[str, Any] | None) -> dict[str, Any]:
    """How a proposed candidate is approved under the configured rule; `limits` are the within-limits figures
    (None when there is no champion to compare with)."""
    rule = settings.approval
    if rule == "none":
        return {
            "status": NOT_REQUIRED,
            "rule": rule,
            "by": None,
            "reason": "approval 'none': development and tests only",
        }
    if rule == "within_limits" and limits is not None and limits["within"]:
        return {"status": APPROVED, "rule": rule, "by": "automatic approval within limits", "reason": limits["why"]}
    reason = "the first champion" if limits is None else (limits["why"] if rule == "within_limits" else "")
    return {"status": AWAITING, "rule": rule, "by": None, "reason": reason or f"awaits a {MODEL_RISK_ROLE} approval"}


def within_limits(
    candidate_features: list[str],
    champion_features: list[str],
    candidate_auc: float | None,
    champion_auc: float | None,
    candidate_air: dict[str, float | None],
    champion_air: dict[str, float | None],
) -> dict[str, Any]:
    """The automatic approval's explicit limits, all on the same validation rows: the same inputs, an AUC not
    lower, and no group's adverse impact ratio lower."""
    problems = []
    if sorted(candidate_features) != sorted(champion_features):
        problems.append("its inputs differ from the champion's")
    if candidate_auc is None or champion_auc is None or candidate_auc < champion_auc:
        problems.append(f"its AUC {candidate_auc} is below the champion's {champion_auc} on the same rows")
    worse = sorted(
        group
        for group, air in candidate_air.items()
        if air is not None and champion_air.get(group) is not None and air < champion_air[group]
    )
    if worse:
        problems.append(f"the adverse impact ratio is worse for {', '.join(worse)}")
    why = "; ".join(problems) if problems else "same inputs, AUC not lower, no group's adverse impact ratio worse"
    return {"within": not problems, "why": why}


def decision_entry(
    entries: Sequence[dict[str, Any]], version: str, decision: str, user: str, role: str, comment: str
) -> dict[str, Any]:
    """The log entry of a model_risk user's approval or rejection of the candidate awaiting it; refused (with the
    reason) unless the version is the one awaiting, the user holds the role and did not ask for the development,
    and the comment says something."""
    state = fold(entries)
    if role != MODEL_RISK_ROLE:
        raise ApprovalRefused(f"only a {MODEL_RISK_ROLE} user may approve or reject a candidate")
    if decision not in (APPROVE, REJECT):
        raise ApprovalRefused(f"decision must be {APPROVE} or {REJECT}")
    if state.pending is None or state.pending["proposed"] != version:
        raise ApprovalRefused(f"{version} is not the candidate awaiting approval")
    if user in state.pending.get("requested_by", []):
        raise ApprovalRefused(f"{user} asked for this development; a second person must decide")
    comment = comment.strip()
    if not MIN_COMMENT <= len(comment) <= MAX_COMMENT:
        raise ApprovalRefused(f"the comment must hold {MIN_COMMENT} to {MAX_COMMENT} characters")
    return {
        "kind": APPROVAL,
        "month": state.pending["month"],
        "version": version,
        "decision": decision,
        "by": user,
        "role": role,
        "comment": comment,
        "development_sequence": state.pending["sequence"],
        "replaces": state.champion,
        "decided_at": _now(),
    }


def _hanley_mcneil(auc: float, defaults: int, others: int) -> float:
    """The standard error of an AUC (Hanley and McNeil 1982)."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = (auc * (1 - auc) + (defaults - 1) * (q1 - auc**2) + (others - 1) * (q2 - auc**2)) / (defaults * others)
    return float(np.sqrt(max(variance, 0.0)))


def auc_decay(result: Performance, settings: ReviewSettings) -> Trigger | None:
    """A forecast AUC more than the tolerance below the validation AUC, when the month's defaults can tell."""
    if not result.labelled or result.roc_auc is None or result.validation_roc_auc is None:
        return None
    defaults = round(result.rows * (result.positive_rate or 0.0))
    if defaults < 2 or result.rows - defaults < 2:
        return None
    error = _hanley_mcneil(result.roc_auc, defaults, result.rows - defaults)
    decay = result.validation_roc_auc - result.roc_auc
    p_value = float(stats.norm.sf(decay / error)) if error > 0 else 0.0
    evidence = {
        "forecast_auc": result.roc_auc,
        "validation_auc": result.validation_roc_auc,
        "decay": decay,
        "standard_error": error,
        "p_value": p_value,
        "defaults": defaults,
        "tolerance": settings.auc_decay_tolerance,
    }
    if decay <= settings.auc_decay_tolerance or p_value >= settings.significance:
        return None
    return Trigger(
        "auc_decay",
        result.month,
        f"forecast AUC {result.roc_auc:.4f} is {decay:.4f} below the validation AUC {result.validation_roc_auc:.4f} "
        f"(tolerance {settings.auc_decay_tolerance}; {defaults} defaults, one-sided p = {p_value:.2g})",
        evidence,
    )


def calibration_failure(result: Performance) -> Trigger | None:
    """Calibration in the large failing for all applicants."""
    found = result.in_the_large or {}
    if not found.get("tested") or found.get("passed", True):
        return None
    text = f"calibration in the large fails for all applicants: {in_the_large_text(found)}"
    return Trigger("calibration", result.month, text, found)


def critical_drift(result: Drift) -> Trigger | None:
    """An important feature's drift at the error level."""
    verdict = core_drift.important_features_stable(result)
    if verdict.passed or verdict.severity is not Severity.ERROR:
        return None
    return Trigger("drift", result.month, verdict.description, verdict.figures)


def new_disparity(result: Fairness, documented: dict[str, float | None], settings: ReviewSettings) -> Trigger | None:
    """A significant disparity beyond the four-fifths limit that the champion's approval did not document, or more
    than the tolerance worse than documented."""
    worse = []
    for flagged in core_fairness.warning_figures(result):
        group = f"{flagged['attribute']}:{flagged['group']}"
        known = documented.get(group)
        if known is None or flagged["adverse_impact_ratio"] < known - settings.fairness_tolerance:
            worse.append({**flagged, "documented_air": known})
    if not worse:
        return None
    names = ", ".join(
        f"{w['attribute']} {w['group']} (AIR {w['adverse_impact_ratio']:.2f}, documented "
        + (f"{w['documented_air']:.2f})" if w["documented_air"] is not None else "none)")
        for w in worse
    )
    return Trigger(
        "fairness",
        result.month,
        f"disparity beyond what the champion's approval documented: {names}",
        {"groups": worse, "tolerance": settings.fairness_tolerance},
    )


def monitoring_triggers(
    drift: Drift | None,
    performance: Performance | None,
    fairness: Fairness | None,
    documented_air: dict[str, float | None],
    settings: ReviewSettings,
) -> list[Trigger]:
    """Every trigger a month's monitoring raises."""
    found = [
        critical_drift(drift) if drift else None,
        auc_decay(performance, settings) if performance else None,
        calibration_failure(performance) if performance else None,
        new_disparity(fairness, documented_air, settings) if fairness else None,
    ]
    return [trigger for trigger in found if trigger is not None]
