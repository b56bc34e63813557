"""The Models page in process on a prepared promotion log (no Dagster run): who sees what, a model_risk user's
approval and rejection, and every refusal audited: wrong role, no CSRF token, no comment, not a second person,
a stale version."""

import io
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import dagster as dg
import httpx
import pytest
from fastapi.testclient import TestClient

from credit_assets import cli
from credit_assets.core.blobs import sha256_of
from credit_assets.core.modeling import change_control as cc
from credit_assets.core.modeling.registry import ModelRegistry
from credit_assets.core.months import landing_file_name
from credit_assets.core.store import ArtifactStore
from credit_assets.portal import models
from credit_assets.portal.audit import AuditEvent
from credit_assets.portal.users import Role, UserStore
from credit_assets_tests.portal.conftest import PASSWORDS, add_users, audit_log, client_for, log_in, token
from credit_assets_tests.support.model_log import DEVELOPER, PreparedModels, prepare_models_root

COMMENT = "validation, calibration and the LDA search reviewed; AIRs documented"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> PreparedModels:
    """The prepared log, the tests' users (mira, rita and dana are model_risk) and rita's upload of the candidate's
    development month in the audit log; built once, copied for each test."""
    prepared = prepare_models_root(tmp_path_factory.mktemp("models") / "root")
    store = prepared.store
    add_users(store)
    with pytest.MonkeyPatch.context() as patch:  # through the command line: `add-user --role model_risk` works
        patch.setattr("sys.stdin", io.StringIO(PASSWORDS["mira"] + "\n"))
        patch.setattr("sys.stdout", io.StringIO())
        assert (
            cli.main(["add-user", "mira", "--role", "model_risk", "--password-stdin", "--root", str(store.local_root)])
            == 0
        )
    users = UserStore(store.portal_users_file)
    assert users.get("mira").role is Role.MODEL_RISK
    for name in ("rita", DEVELOPER):
        users.add(name, Role.MODEL_RISK, PASSWORDS[name])
    landed = AuditEvent(
        "rita", "upload", "landed", prepared.candidate_month, landing_file_name(prepared.candidate_month)
    )
    audit_log(store).record(landed)
    return prepared


@pytest.fixture
def prepared(template: PreparedModels, tmp_path: Path) -> PreparedModels:
    """A copy of the template's storage root and the secrets folder beside it."""
    shutil.copytree(template.store.local_root.parent, tmp_path / "copy")
    return replace(template, store=ArtifactStore.at(tmp_path / "copy" / template.store.local_root.name))


@pytest.fixture
def client(prepared: PreparedModels, instance: dg.DagsterInstance) -> Iterator[TestClient]:
    with client_for(prepared.store, instance) as client:
        yield client


def decide(
    client: TestClient, version: str, decision: str = "approve", comment: str = COMMENT, **form: str
) -> httpx.Response:
    fields = {"csrf_token": token(client, "/models"), "decision": decision, "comment": comment, **form}
    return client.post(f"/models/{version}/decision", data=fields)


def registry(prepared: PreparedModels) -> ModelRegistry:
    return ModelRegistry(prepared.store.blobs)


def last_audit(store: ArtifactStore) -> tuple:
    entry = audit_log(store).entries()[-1]
    return entry["user"], entry["action"], entry["outcome"]


def test_a_viewer_sees_both_versions_but_no_form_and_is_refused_a_decision(
    client: TestClient, prepared: PreparedModels
) -> None:
    log_in(client, "victor")
    page = client.get("/models")
    assert page.status_code == 200
    for words in (prepared.champion, prepared.candidate, "champion in force", "candidate awaiting approval",
                  "CODE_GENDER:F", "auc_decay", "drop AMT_ANNUITY", "approved by quinn", 'href="/models"'):  # fmt: skip
        assert words in page.text, words
    assert "/decision" not in page.text and "Only a model_risk user approves or rejects" in page.text
    answer = decide(client, prepared.candidate)
    assert answer.status_code == 403 and "only model_risk users decide" in answer.text
    assert last_audit(prepared.store) == ("victor", "model decision", "refused: decision not allowed")
    assert registry(prepared).state().pending["proposed"] == prepared.candidate


def test_a_model_risk_user_approves_with_a_comment_and_the_candidate_becomes_champion(
    client: TestClient, prepared: PreparedModels
) -> None:
    log_in(client, "mira")
    assert f'action="/models/{prepared.candidate}/decision"' in client.get("/models").text
    answer = decide(client, prepared.candidate, comment=f"  {COMMENT}  ")
    assert answer.status_code == 200
    assert (
        f"approved: {prepared.candidate} becomes champion; the next month&#39;s model run scores with it" in answer.text
    )
    entry = registry(prepared).promotions()[-1]
    assert (entry["kind"], entry["version"], entry["decision"], entry["by"], entry["role"]) == (
        cc.APPROVAL, prepared.candidate, cc.APPROVE, "mira", "model_risk"
    )  # fmt: skip
    assert entry["comment"] == COMMENT and entry["decided_at"] and entry["replaces"] == prepared.champion
    state = registry(prepared).state()
    assert state.champion == prepared.candidate and state.pending is None
    audited = audit_log(prepared.store).entries()[-1]
    assert (audited["user"], audited["action"], audited["outcome"], audited["file"]) == (
        "mira", "model decision", "approve", prepared.candidate
    )  # fmt: skip
    assert audited["detail"] == COMMENT and audited["month"] == prepared.candidate_month
    history = client.get("/models").text
    assert "mira" in history and COMMENT in history and "Decision on" not in history


def test_a_rejection_keeps_the_champion(client: TestClient, prepared: PreparedModels) -> None:
    log_in(client, "mira")
    answer = decide(client, prepared.candidate, "reject", "the LDA search left out the age proxies")
    assert answer.status_code == 200 and f"rejected: {prepared.candidate}; {prepared.champion} stays" in answer.text
    state = registry(prepared).state()
    assert state.champion == prepared.champion and state.pending is None
    assert last_audit(prepared.store) == ("mira", "model decision", "reject")


@pytest.mark.parametrize(
    ("comment", "decision"),
    [("", "approve"), ("ok", "approve"), ("x" * (cc.MAX_COMMENT + 1), "approve"), (COMMENT, "promote")],
)
def test_a_decision_needs_a_comment_and_approve_or_reject(
    client: TestClient, prepared: PreparedModels, comment: str, decision: str
) -> None:
    log_in(client, "mira")
    before = registry(prepared).promotions()
    answer = decide(client, prepared.candidate, decision, comment)
    assert answer.status_code == 400
    title = "comment needed" if decision == "approve" else "unknown decision"
    assert last_audit(prepared.store) == ("mira", "model decision", f"refused: {title}")
    assert registry(prepared).promotions() == before


@pytest.mark.parametrize(
    ("name", "why"), [("rita", "uploaded the landing file of 2020-12"), (DEVELOPER, "asked for this development")]
)
def test_the_uploader_or_requester_of_the_development_may_not_decide_it(
    client: TestClient, prepared: PreparedModels, name: str, why: str
) -> None:
    log_in(client, name)
    page = client.get("/models").text
    assert why in page and "/decision" not in page  # told before trying
    answer = decide(client, prepared.candidate)
    assert answer.status_code == 403 and why in answer.text and "a second person decides" in answer.text
    assert last_audit(prepared.store) == (name, "model decision", "refused: second person needed")
    assert registry(prepared).state().pending["proposed"] == prepared.candidate


def test_a_stale_or_unknown_version_is_refused(client: TestClient, prepared: PreparedModels) -> None:
    log_in(client, "mira")
    for version in (prepared.champion, "lightgbm-0000000000000000", "../../promotions.jsonl"):
        answer = decide(client, version)
        assert answer.status_code in (409, 404), version  # a path with slashes matches no route: 404
    assert decide(client, prepared.champion).status_code == 409
    assert decide(client, prepared.candidate).status_code == 200
    again = decide(client, prepared.candidate)  # a second tab's form after the decision
    assert again.status_code == 409 and "no candidate awaits approval" in again.text
    assert last_audit(prepared.store) == ("mira", "model decision", "refused: not awaiting approval")
    assert [e["kind"] for e in registry(prepared).promotions()].count(
        cc.APPROVAL
    ) == 2  # the first champion's and mira's


def test_a_model_risk_user_uploads_nothing(client: TestClient, prepared: PreparedModels) -> None:
    log_in(client, "mira")
    form = {"csrf_token": token(client, "/"), "month": prepared.candidate_month}
    answer = client.post("/upload", data=form, files={"file": ("a.csv", b"SK_ID_CURR\n1\n", "text/csv")})
    assert answer.status_code == 403 and "mira is a model_risk: only uploaders upload" in answer.text
    assert last_audit(prepared.store) == ("mira", "upload", "refused: model_risk role")


def test_a_decision_without_the_forms_token_or_too_large_is_refused(
    client: TestClient, prepared: PreparedModels
) -> None:
    log_in(client, "mira")
    before = registry(prepared).promotions()
    forged = client.post(f"/models/{prepared.candidate}/decision", data={"decision": "approve", "comment": COMMENT})
    assert forged.status_code == 403 and "did not come from this portal" in forged.text
    assert last_audit(prepared.store) == ("mira", "model decision", "refused: missing or wrong CSRF token")
    assert decide(client, prepared.candidate, comment="y" * 40_000).status_code == 413
    assert last_audit(prepared.store) == ("mira", "model decision", "refused: form too large")
    assert registry(prepared).promotions() == before


def test_the_months_page_flags_the_month_awaiting_approval_until_it_is_decided(
    client: TestClient, prepared: PreparedModels
) -> None:
    landing = prepared.store.local_root.joinpath("landing", landing_file_name(prepared.candidate_month))
    landing.parent.mkdir(parents=True, exist_ok=True)
    landing.write_text("SK_ID_CURR\n1\n")  # only so the month is listed
    log_in(client, "victor")
    row = client.get("/").text.split(f'id="month-{prepared.candidate_month}"')[1].split("</tr>")[0]
    assert 'href="/models">candidate awaiting approval</a>' in row
    client.post("/logout", data={"csrf_token": token(client, "/")})
    log_in(client, "mira")
    decide(client, prepared.candidate)
    assert "candidate awaiting approval" not in client.get("/").text


def test_the_frontier_chart_and_documentation_come_by_a_logged_version_only(
    client: TestClient, prepared: PreparedModels
) -> None:
    log_in(client, "victor")
    chart = client.get(f"/models/{prepared.candidate}/lda_frontier.png")
    assert chart.status_code == 200 and chart.headers["content-type"] == "image/png"
    assert chart.content.startswith(b"\x89PNG")
    pack = client.get(f"/models/{prepared.champion}/documentation.html")
    stored = prepared.store.local_root.joinpath("documentation", f"{prepared.champion}.html")
    assert pack.status_code == 200 and pack.content == stored.read_bytes()
    entry = audit_log(prepared.store).entries()[-1]
    assert (entry["outcome"], entry["file"], entry["file_sha256"]) == ("ok", stored.name, sha256_of(stored))
    assert client.get("/models/lightgbm-0000000000000000/lda_frontier.png").status_code == 404
    assert last_audit(prepared.store) == ("victor", "download", "refused: unknown model version")
    assert client.get("/models/..%2F..%2Fportal%2Fusers/documentation.html").status_code == 404  # no such route
    assert last_audit(prepared.store) == ("victor", "models", "refused: 404")


def test_an_lda_summary_of_another_shape_still_renders(prepared: PreparedModels) -> None:
    odd = {
        "picked": "b",
        "alternatives": [{"label": "a", "groups": {"F": 0.7}}, {"label": "b", "expected_profit": 5.0}],
    }
    table = models.alternatives(odd)
    assert table.columns == ["label", "groups", "expected_profit"] and table.marked == 1
    assert table.rows[0] == ["a", '{"F": 0.7}', "—"] and models.picked_profit(odd) == 5.0
    assert models.alternatives({"policy": "none"}) == models.Table() and models.picked_profit({}) is None
    entry = {**registry(prepared).state().pending}
    del entry["lda"]  # a log without the summary: the stored search (lda.json) fills in
    view = models.model_view("candidate", prepared.candidate, entry, "", registry(prepared), prepared.store)
    assert view.lda["picked"] == "drop AMT_ANNUITY" and view.profit == 120_000.0 and view.frontier
