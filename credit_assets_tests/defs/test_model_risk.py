"""The model-risk loop with real Dagster runs: a trigger develops candidates with their proxy analysis and LDA
frontier, the candidate waits for a model_risk approval while the old champion scores, an approval makes it the
next month's champion, a rejection keeps the old one, and the promotion log holds every decision."""

import json
from pathlib import Path

import dagster as dg
import pytest

from credit_assets.core.modeling import change_control as cc
from credit_assets.core.modeling.month_decision import FRONTIER_FILE, LDA_FILE
from credit_assets.core.modeling.registry import ModelRegistry
from credit_assets.defs.approval_sensor import approval_sensor
from credit_assets.defs.assets.model import ASSET_KEY as MODEL
from credit_assets.defs.storage import StorageResource
from credit_assets.synthetic.generate import GeneratorConfig
from credit_assets_tests.support.browser import chromium, tab
from credit_assets_tests.support.materialise import (
    INGEST,
    copy_storage,
    failure_message,
    materialize_month,
    storage_with,
    write_small_landing,
)
from credit_assets_tests.support.models_approval import MODEL_RISK_USER, approve_in_browser, models_portal

FOUR_MONTHS = GeneratorConfig(seed=11, history_rows=4_000, months=4, rows_per_month=1_500)
HISTORY, OCT, NOV, DEC, JAN = FOUR_MONTHS.month_keys
# the platform's defaults (quarterly review, a model_risk approval), with the small data's fast training
GOVERNED = {"review_every_months": 3, "approval": "model_risk", "lda_proxies": 2}
SCORE = ["model", "forecasts"]


def scored_by(storage: StorageResource, month: str) -> list[str]:
    frame = storage.store.read_table("forecasts", month, ["model_version"])
    return sorted(frame["model_version"].unique())


def run(storage: StorageResource, month: str, **config: object) -> dg.ExecuteInProcessResult:
    return materialize_month(storage, month, SCORE, model_config={**GOVERNED, **config})


@pytest.fixture(scope="module")
def pending_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every month ingested, and the first scored month run: with no champion yet it developed candidates, and the
    proposal awaits a model_risk approval."""
    folder = tmp_path_factory.mktemp("model_risk")
    landing = folder / "landing"
    write_small_landing(landing, FOUR_MONTHS)
    storage = storage_with(folder / "root", landing, FOUR_MONTHS.month_keys)
    for month in FOUR_MONTHS.month_keys:
        assert materialize_month(storage, month, INGEST).success
    first = run(storage, OCT)
    assert not first.success and "awaits approval by a model_risk user" in failure_message(first)
    return folder / "root"


@pytest.fixture
def pending(pending_template: Path, tmp_path: Path) -> StorageResource:
    return copy_storage(pending_template, tmp_path)


def test_the_loop_from_trigger_to_approval_rejection_and_the_log(pending: StorageResource) -> None:
    ingested, registry = pending, ModelRegistry(pending.store.blobs)

    # 1. No champion yet: the month developed candidates with the LDA search; the proposal waits for a person
    state = registry.state()
    assert state.champion is None and state.pending["month"] == OCT
    assert [t["kind"] for t in state.pending["review"]["triggers"]] == ["no_champion"]
    candidate = state.pending["proposed"]
    search = json.loads(ingested.store.read_report_file(MODEL.to_user_string(), OCT, LDA_FILE))
    assert search["proxies"] and len([a for a in search["alternatives"] if a["kind"] == "model"]) >= 3
    assert all("air" in a and "validation_auc" in a and "profit" in a for a in search["alternatives"])
    assert ingested.store.read_report_file(MODEL.to_user_string(), OCT, FRONTIER_FILE).startswith(b"\x89PNG")
    waiting = run(ingested, NOV)  # nothing scores while the first champion awaits its approval
    assert not waiting.success and f"candidate {candidate} awaits approval" in failure_message(waiting)

    # 2. A model_risk user approves (test_a_model_risk_user_approves_in_the_portal does it through the page); the
    # sensor asks for the months that waited, and they score with the approved candidate without developing again
    registry.decide(candidate, cc.APPROVE, "validator", cc.MODEL_RISK_ROLE, "validated: LDA search documented")
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"storage": ingested})
        requested = approval_sensor(context).run_requests
    assert [request.partition_key for request in requested] == [OCT, NOV, DEC, JAN]
    again = run(ingested, OCT)
    assert again.success, failure_message(again)
    assert scored_by(ingested, OCT) == [candidate]
    assert registry.decision(OCT).review["developed"] is False

    # 3. No trigger: the champion scores the next month and nothing is trained
    versions = {card.version for card in registry.cards()}
    kept = run(ingested, NOV)
    assert kept.success, failure_message(kept)
    assert scored_by(ingested, NOV) == [candidate] and {card.version for card in registry.cards()} == versions
    assert registry.decision(NOV).review == {**registry.decision(NOV).review, "developed": False, "triggers": []}

    # 4. A scheduled review (every month here) develops a new candidate; the old champion keeps scoring meanwhile
    reviewed = run(ingested, DEC, review_every_months=1)
    assert reviewed.success, failure_message(reviewed)
    decision = registry.decision(DEC)
    assert [t["kind"] for t in decision.review["triggers"]] == ["scheduled_review"]
    assert decision.approval["status"] == cc.AWAITING and scored_by(ingested, DEC) == [candidate]
    metadata = reviewed.asset_materializations_for_node("model")[0].metadata
    assert metadata["status"].value.startswith("candidate awaiting approval")
    successor = decision.proposed
    packs = materialize_month(ingested, DEC, ["model_documentation"])
    assert packs.success, failure_message(packs)
    pack = (
        ingested.store.local_root.joinpath("documentation", f"{successor}.html").read_text().replace("<wbr>", "")
    )  # what the approver reads
    assert "Search for a less discriminatory alternative" in pack and "awaits a model_risk decision" in pack
    assert "scheduled_review" in pack and "Proxy analysis" in pack
    champion_pack = (
        ingested.store.local_root.joinpath("documentation", f"{candidate}.html").read_text().replace("<wbr>", "")
    )
    assert "approved by validator (model_risk)" in champion_pack and "no_champion" in champion_pack

    # 5. A rejection keeps the old champion; a later approval would have been refused to the developer
    registry.decide(successor, cc.REJECT, "validator", cc.MODEL_RISK_ROLE, "profit below the policy's tolerance")
    assert registry.state().champion == candidate and registry.state().pending is None
    later = run(ingested, JAN)
    assert later.success and scored_by(ingested, JAN) == [candidate]

    # 6. The promotion log holds every decision with who, when and why
    entries = registry.promotions()
    approvals = [e for e in entries if e["kind"] == cc.APPROVAL]
    assert [(a["decision"], a["by"]) for a in approvals] == [(cc.APPROVE, "validator"), (cc.REJECT, "validator")]
    assert all(a["decided_at"] and a["comment"] for a in approvals)
    months = [e for e in entries if e["kind"] == cc.MONTH]
    assert all(e["review"]["why"] and e["decided_at"] for e in months)
    reigns = cc.reigns(entries)
    assert [r.version for r in reigns] == [candidate] and "validator" in reigns[0].why()


def test_a_model_risk_user_approves_in_the_portal_and_the_next_month_scores_with_it(
    pending: StorageResource, tmp_path: Path
) -> None:
    candidate = ModelRegistry(pending.store.blobs).state().pending["proposed"]
    home = tmp_path / "dagster_home"
    home.mkdir()
    with (
        chromium() as browser,
        models_portal(pending.store.local_root, home) as portal,
        tab(browser, portal.url) as page,
    ):
        entry = approve_in_browser(page, portal, "validation, calibration and the LDA search reviewed")
    assert entry["version"] == candidate and entry["by"] == MODEL_RISK_USER and entry["decided_at"]
    scored = run(pending, NOV)
    assert scored.success, failure_message(scored)
    assert scored_by(pending, NOV) == [candidate]
    assert ModelRegistry(pending.store.blobs).decision(NOV).champion_approval["by"] == MODEL_RISK_USER
