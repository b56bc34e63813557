"""Live decisions of the scored month, logged as the service logs them, folded by the `decisions` asset; the notice
rule and its 30-day check, with real Dagster runs, the real registry champion and a real SQLite decision log."""

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from credit_assets.core.contract import schema
from credit_assets.core.decisions import log as decision_log
from credit_assets.core.decisions.log import (
    UNDERWRITER_REASONS,
    DecisionLog,
    LiveDecision,
)
from credit_assets.core.store import NOTICES_EXPORT
from credit_assets.defs.storage import StorageResource
from credit_assets_tests.support.files import read_export, read_json
from credit_assets_tests.support.live_decisions import decide, records_of, underwrite_month
from credit_assets_tests.support.materialise import SCORED_MONTH, copy_storage, decision_log_of, materialize_month

ID = schema.ID_COLUMN
LIVE_ROWS = 900  # decided live; the month's other applications keep their batch forecasts only
UNDERWRITTEN_AT = datetime(2020, 10, 20, 9, 30, tzinfo=UTC)  # inside the month, within 30 days of every decision
RUN = ["decisions", "adverse_action_notices"]


@dataclass(frozen=True)
class LiveMonth:
    storage: StorageResource
    result: dg.ExecuteInProcessResult
    decisions: list[LiveDecision]
    final: dict[int, str]  # application -> final decision
    underwritten: dict[int, str]  # application -> underwriter's reason code
    records: list[dict[str, Any]]


@pytest.fixture(scope="module")
def live_month(scored_month_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveMonth]:
    """The scored month with LIVE_ROWS of its applications decided live in its first days, every referral and two
    automatic decisions underwritten on the 20th, then `decisions` and `adverse_action_notices` materialised."""
    storage = copy_storage(scored_month_root, tmp_path_factory.mktemp("live"))
    records = records_of(storage, SCORED_MONTH)
    decided = decide(storage, records[:LIVE_ROWS], datetime(2020, 10, 3, 8, tzinfo=UTC))
    log = DecisionLog(decision_log_of(storage).url)
    log.append(decided)
    with pytest.MonkeyPatch.context() as patch:  # underwriters decided on the 20th, not today
        patch.setattr(decision_log, "now_utc", lambda: UNDERWRITTEN_AT)
        codes = underwrite_month(log, decided)
    log.engine.dispose()
    final = {d.application_id: d.decision for d in decided}
    final |= {i: UNDERWRITER_REASONS[c].final_decision for i, c in codes.items()}
    result = materialize_month(storage, SCORED_MONTH, RUN)
    yield LiveMonth(storage, result, decided, final, codes, records)


def checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def fold_of(storage: StorageResource, month: str) -> dict[str, Any]:
    return read_json(storage.store.local_root.joinpath("artifacts", "decisions", month) / "decisions.json")


def test_live_decisions_match_the_batch_and_fold_into_the_monitoring(live_month: LiveMonth) -> None:
    result, storage = live_month.result, live_month.storage
    assert result.success
    found = checks(result)
    assert found["live_matches_batch"].passed and found["declines_noticed_within_30_days"].passed
    assert "live_no_significant_adverse_impact" in found
    fold = fold_of(storage, SCORED_MONTH)
    comparison = fold["comparison"]
    assert comparison["compared"] == comparison["in_batch"] == LIVE_ROWS and comparison["mismatched"] == 0
    assert fold["decisions"] == LIVE_ROWS and [row["caller"] for row in fold["by_caller"]] == ["test"]
    assert fold["referrals"]["pending"] == 0 and fold["referrals"]["referred"] > 10
    assert fold["drift"]["month_rows"] == LIVE_ROWS and fold["fairness"]["rows"] == LIVE_ROWS
    assert fold["performance"]["labelled"] and fold["performance"]["rows"] == LIVE_ROWS
    [materialised] = [
        e.materialization for e in result.get_asset_materialization_events() if e.asset_key.path == ["decisions"]
    ]
    assert {"overrides_by_sex", "overrides_by_reason", "fairness_sex", "probability_psi", "live_roc_auc"} <= set(
        materialised.metadata
    )
    stored = storage.store.read_table("decisions", SCORED_MONTH)
    assert len(stored) == LIVE_ROWS and stored["decided_by"].eq("underwriter").sum() == len(live_month.underwritten)


def test_the_override_report_counts_overrides_by_reason_and_group(live_month: LiveMonth) -> None:
    overrides = fold_of(live_month.storage, SCORED_MONTH)["overrides"]
    assert overrides["overrides"] == 2
    by_reason = {row["reason_code"]: row for row in overrides["by_reason"]}
    assert by_reason["excessive_obligations"]["overrides"] == 1
    assert by_reason["compensating_factors"]["overrides"] == 1
    assert by_reason["income_verified"]["overrides"] == 0 and by_reason["income_verified"]["referral_decisions"] > 0
    for rows in overrides["by_group"].values():
        assert sum(row["overrides"] for row in rows) == 2
        assert sum(row["automatic"] for row in rows) == overrides["automatic"]
    overridden = [
        d for d in live_month.decisions if d.application_id in live_month.underwritten and d.decision != "review"
    ]
    sexes = {d.inputs["CODE_GENDER"] for d in overridden}
    by_sex = {row["group"]: row["overrides"] for row in overrides["by_group"]["sex"]}
    assert sum(by_sex[sex] for sex in sexes) == 2


def test_notices_hold_exactly_the_final_declines_dated_by_their_decision(live_month: LiveMonth) -> None:
    storage = live_month.storage
    notices = read_export(storage.store, NOTICES_EXPORT, SCORED_MONTH, keep_default_na=False)
    assert set(notices["decision"]) == {"decline"}
    live = notices[notices["application_date"] != ""].set_index(ID)
    assert set(live.index) == {i for i, final in live_month.final.items() if final == "decline"}
    by_underwriter = live[live["decided_by"] == "underwriter"]
    assert set(by_underwriter.index) == {i for i, c in live_month.underwritten.items() if c in DECLINE_CODES}
    assert set(by_underwriter["decision_date"]) == {UNDERWRITTEN_AT.date().isoformat()}
    statements = {UNDERWRITER_REASONS[c].statement for c in DECLINE_CODES}
    assert set(by_underwriter["reason_1"]) <= statements
    automatic = live[live["decided_by"] == "model"]
    assert (automatic["decision_date"] == automatic["application_date"]).all()
    forecasts = storage.store.read_table("forecasts", SCORED_MONTH)
    batch_only = forecasts[~forecasts[ID].isin(live_month.final)]
    batch = notices[notices["application_date"] == ""]
    assert set(batch[ID]) == set(batch_only.loc[batch_only["decision"] == "decline", ID])
    assert set(batch["decision_date"]) == {"2020-11-01"} and set(batch["decided_by"]) == {"model"}


DECLINE_CODES = {code for code, reason in UNDERWRITER_REASONS.items() if reason.final_decision == "decline"}


def test_a_logged_probability_unlike_the_batch_fails_the_blocking_check(live_month: LiveMonth, tmp_path: Path) -> None:
    shutil.copytree(live_month.storage.root, tmp_path / "root")
    storage = StorageResource(root=str(tmp_path / "root"))
    record = live_month.records[LIVE_ROWS]  # batch-only so far
    [honest] = decide(storage, [record], datetime(2020, 10, 25, tzinfo=UTC))
    tampered = LiveDecision(**{**vars(honest), "probability": honest.probability + 1e-6})
    DecisionLog(decision_log_of(storage).url).append([tampered])
    result = materialize_month(storage, SCORED_MONTH, ["decisions"])
    check = checks(result)["live_matches_batch"]
    assert not result.success and not check.passed
    assert check.metadata["mismatched"].value == 1
    assert tampered.decision_id in str(check.metadata["examples"].value)


def test_a_late_underwriter_decline_and_an_old_referral_fail_the_notice_check(
    live_month: LiveMonth, tmp_path: Path
) -> None:
    storage = copy_storage(Path(live_month.storage.root), tmp_path)
    referrals = [r for r, d in zip(live_month.records, live_month.decisions, strict=False) if d.decision == "review"]
    applied = datetime.now(UTC) - timedelta(days=45)  # past any 30-day deadline, in a month with no batch yet
    fresh = [{**record, ID: 990_000_000 + i} for i, record in enumerate(referrals[:2])]  # each ID is decided once
    late, waiting = decide(storage, fresh, applied)
    log = DecisionLog(decision_log_of(storage).url)
    log.append([late, waiting])
    log.underwrite(late.decision_id, "uw1", "decline", "employment_not_verified", "employer did not answer")
    month = late.month
    result = materialize_month(storage, month, RUN)
    found = checks(result)
    assert found["live_matches_batch"].passed  # no batch forecasts for the month: said, not failed
    check = found["declines_noticed_within_30_days"]
    assert not result.success and not check.passed
    assert check.metadata["late"].value == 1 and check.metadata["overdue_referrals"].value == 1
    named = {row["decision_id"]: row["problem"] for row in check.metadata["examples"].value}
    assert named == {late.decision_id: "notice too late", waiting.decision_id: "referral undecided"}
