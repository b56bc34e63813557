"""Change control on plain promotion-log entries: triggers, the month plan, approvals and their limits."""

from pathlib import Path

import pytest

from credit_assets.core.blobs import LocalBlobs
from credit_assets.core.modeling import change_control as cc
from credit_assets.core.modeling.registry import ModelRegistry
from credit_assets.core.modeling.settings import ModelSettings
from credit_assets.core.monitoring.fairness import Fairness
from credit_assets.core.monitoring.performance import Performance

QUARTERLY = ModelSettings()


def developed(month: str, proposed: str | None, status: str = cc.AWAITING, requested_by: list[str] = ()) -> dict:
    return {
        "kind": cc.MONTH,
        "month": month,
        "champion": None,
        "proposed": proposed,
        "approval": {"status": status},
        "review": {"developed": True, "triggers": [], "why": "developed"},
        "requested_by": list(requested_by),
        "candidates": [],
        "lda": {"picked_air": {"age_band:<25": 0.60}},
    }


def kept(month: str, champion: str | None) -> dict:
    return {"kind": cc.MONTH, "month": month, "champion": champion, "review": {"developed": False}}


def numbered(entries: list[dict]) -> list[dict]:
    return [{**entry, "sequence": number} for number, entry in enumerate(entries, start=1)]


def approval(version: str, decision: str = cc.APPROVE) -> dict:
    return {"kind": cc.APPROVAL, "version": version, "decision": decision}


def test_a_first_month_develops_and_the_candidate_waits_for_approval() -> None:
    plan = cc.plan_month("2021-01", cc.fold([]), QUARTERLY)
    assert plan.develop and [t.kind for t in plan.triggers] == ["no_champion"]
    state = cc.fold([developed("2021-01", "lightgbm-a")])
    assert state.champion is None and state.pending["proposed"] == "lightgbm-a"
    waiting = cc.plan_month("2021-02", state, QUARTERLY)
    assert not waiting.develop  # no second development while a candidate awaits its decision


def test_an_approval_makes_the_champion_and_a_rejection_keeps_the_old_one() -> None:
    log = [developed("2021-01", "a"), approval("a"), developed("2021-04", "b")]
    assert cc.fold(log).champion == "a" and cc.fold(log).pending["proposed"] == "b"
    assert cc.fold([*log, approval("b", cc.REJECT)]).champion == "a"
    assert cc.fold([*log, approval("b")]).champion == "b"
    assert cc.fold([*log, approval("b")]).champion_month == "2021-04"


def test_the_champion_is_kept_until_the_scheduled_review_or_a_monitoring_trigger() -> None:
    state = cc.fold([developed("2021-01", "a"), approval("a")])
    for month in ("2021-02", "2021-03"):
        plan = cc.plan_month(month, state, QUARTERLY)
        assert not plan.develop and plan.triggers == [] and "keeps scoring" in plan.why
    assert plan.next_scheduled_review == "2021-04"
    due = cc.plan_month("2021-04", state, QUARTERLY)
    assert due.develop and [t.kind for t in due.triggers] == ["scheduled_review"]
    drifted = {
        "kind": cc.TRIGGER,
        "month": "2021-02",
        "triggers": [{"kind": "drift", "month": "2021-02", "description": "x"}],
    }
    triggered = cc.plan_month("2021-03", cc.fold([developed("2021-01", "a"), approval("a"), drifted]), QUARTERLY)
    assert triggered.develop and [t.kind for t in triggered.triggers] == ["drift"]
    # a trigger recorded for the month itself (its own monitoring) acts on the next month, not on a re-run of it
    assert not cc.plan_month("2021-02", cc.fold([developed("2021-01", "a"), approval("a"), drifted]), QUARTERLY).develop


def test_a_development_clears_the_triggers_it_answered() -> None:
    drifted = {
        "kind": cc.TRIGGER,
        "month": "2021-02",
        "triggers": [{"kind": "drift", "month": "2021-02", "description": "x"}],
    }
    state = cc.fold([developed("2021-01", "a"), approval("a"), drifted, developed("2021-03", "b"), approval("b")])
    assert state.open_triggers == [] and not cc.plan_month("2021-04", state, QUARTERLY).develop


def test_a_decision_needs_the_role_a_second_person_a_comment_and_the_awaiting_version() -> None:
    log = numbered([developed("2021-01", "a", requested_by=["alice"])])
    entry = cc.decision_entry(
        log, "a", cc.APPROVE, "bob", cc.MODEL_RISK_ROLE, "  validated: AUC and AIRs as documented "
    )
    assert entry["by"] == "bob" and entry["comment"] == "validated: AUC and AIRs as documented"
    assert entry["development_sequence"] == 1 and entry["decided_at"]
    refusals = {
        "only a model_risk": ("a", cc.APPROVE, "bob", "viewer", "a long enough comment"),
        "second person": ("a", cc.APPROVE, "alice", cc.MODEL_RISK_ROLE, "a long enough comment"),
        "comment": ("a", cc.APPROVE, "bob", cc.MODEL_RISK_ROLE, "ok"),
        "not the candidate": ("b", cc.APPROVE, "bob", cc.MODEL_RISK_ROLE, "a long enough comment"),
        "decision must": ("a", "maybe", "bob", cc.MODEL_RISK_ROLE, "a long enough comment"),
    }
    for reason, arguments in refusals.items():
        with pytest.raises(cc.ApprovalRefused, match=reason):
            cc.decision_entry(log, *arguments)


def test_two_decisions_on_one_candidate_cannot_both_be_taken(tmp_path: Path) -> None:
    registry = ModelRegistry(LocalBlobs(tmp_path))
    registry.append(developed("2021-01", "a"))
    registry.decide("a", cc.APPROVE, "bob", cc.MODEL_RISK_ROLE, "validated and approved")
    with pytest.raises(cc.ApprovalRefused, match="not the candidate awaiting"):
        registry.decide("a", cc.REJECT, "carol", cc.MODEL_RISK_ROLE, "too late: already decided")
    assert [e["kind"] for e in registry.promotions()] == [cc.MONTH, cc.APPROVAL]


def test_automatic_approval_holds_only_within_its_limits() -> None:
    same = cc.within_limits(["x", "y"], ["y", "x"], 0.75, 0.74, {"age:<25": 0.7}, {"age:<25": 0.6})
    assert same["within"]
    assert not cc.within_limits(["x"], ["y"], 0.75, 0.74, {}, {})["within"]
    assert not cc.within_limits(["x"], ["x"], 0.73, 0.74, {}, {})["within"]
    worse = cc.within_limits(["x"], ["x"], 0.75, 0.74, {"age:<25": 0.5}, {"age:<25": 0.6})
    assert not worse["within"] and "age:<25" in worse["why"]
    rule = ModelSettings(approval="within_limits")
    assert cc.approval_status(rule, same)["status"] == cc.APPROVED
    assert cc.approval_status(rule, worse)["status"] == cc.AWAITING
    assert cc.approval_status(rule, None)["status"] == cc.AWAITING  # the first champion always waits
    assert cc.approval_status(QUARTERLY, same)["status"] == cc.AWAITING


def performance(auc: float, rows: int, rate: float) -> Performance:
    return Performance(
        month="2021-02", labelled=True, rows=rows, positive_rate=rate, roc_auc=auc, validation_roc_auc=0.76
    )


def test_auc_decay_triggers_only_beyond_the_tolerance_when_the_defaults_can_tell() -> None:
    settings = cc.ReviewSettings()
    assert cc.auc_decay(performance(0.70, 10_000, 0.08), settings).kind == "auc_decay"
    assert cc.auc_decay(performance(0.74, 10_000, 0.08), settings) is None  # within the tolerance
    assert cc.auc_decay(performance(0.72, 300, 0.05), settings) is None  # 15 defaults cannot tell 0.04


def fairness_with(air: float) -> Fairness:
    group = {
        "group": "<25",
        "count": 900,
        "approval_rate": 0.5,
        "adverse_impact_ratio": air,
        "p_value": 1e-9,
        "p_holm": 1e-8,
        "flagged": True,
    }
    reference = {"group": "35-44", "count": 3000, "approval_rate": 0.8, "flagged": False}
    return Fairness(
        month="2021-02",
        rows=5000,
        labelled=False,
        limits={},
        attributes={"age_band": {"reference_group": "35-44", "groups": [group, reference]}},
    )


def test_a_documented_disparity_triggers_only_when_it_grows_beyond_the_tolerance() -> None:
    settings, documented = cc.ReviewSettings(), {"age_band:<25": 0.60}
    assert cc.new_disparity(fairness_with(0.58), documented, settings) is None
    assert cc.new_disparity(fairness_with(0.50), documented, settings).kind == "fairness"
    assert cc.new_disparity(fairness_with(0.58), {}, settings).kind == "fairness"  # never documented


def test_a_rerun_of_a_months_monitoring_records_its_triggers_once() -> None:
    trigger = cc.Trigger("drift", "2021-02", "x")
    first = cc.trigger_entry("2021-02", [trigger], [])
    assert cc.trigger_entry("2021-02", [trigger], [first]) is None
    assert cc.trigger_entry("2021-02", [], []) is None
