"""The underwriter queue in process on a real SQLite decision log (no Dagster run, no model): who may see it,
what it shows and never shows, an underwriter's decision and override, and every refusal audited: wrong role,
unknown or malformed ID, a second decision, a reason that does not fit, no CSRF token."""

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import httpx
import pytest
from fastapi.testclient import TestClient

from credit_assets import cli
from credit_assets.core.contract import schema
from credit_assets.core.decisions.log import DecisionLog, LiveDecision
from credit_assets.core.store import ArtifactStore
from credit_assets.portal.referrals import employment
from credit_assets.portal.users import Role, UserStore
from credit_assets_tests.portal.conftest import PASSWORDS, Clock, add_users, audit_log, client_for, log_in, token
from credit_assets_tests.support.referrals import Arrival, log_arrivals, moment

UNDERWRITER = "uma"
COMMENT = "Payslips for three months do not match the stated income."
HIDDEN = [column.name for column in schema.protected_columns()] + ["NAME_INCOME_TYPE", "NAME_EDUCATION_TYPE"]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A storage root with the portal's users, uma added through the command line; copied for each test."""
    root = tmp_path_factory.mktemp("referrals") / "root"
    store = ArtifactStore.at(root)
    add_users(store)
    with pytest.MonkeyPatch.context() as patch:  # `add-user --role underwriter` works
        patch.setattr("sys.stdin", io.StringIO(PASSWORDS[UNDERWRITER] + "\n"))
        patch.setattr("sys.stdout", io.StringIO())
        command = ["add-user", UNDERWRITER, "--role", "underwriter", "--password-stdin", "--root", str(root)]
        assert cli.main(command) == 0
    users = UserStore(store.portal_users_file)
    assert users.get(UNDERWRITER).role is Role.UNDERWRITER
    users.add("mira", Role.MODEL_RISK, PASSWORDS["mira"])
    return root


@pytest.fixture
def store(template: Path, tmp_path: Path) -> ArtifactStore:
    shutil.copytree(template, tmp_path / "root")
    return ArtifactStore.at(tmp_path / "root")


@pytest.fixture
def log(tmp_path: Path) -> DecisionLog:
    return DecisionLog(f"sqlite:///{tmp_path / 'decisions' / 'decision_log.sqlite'}")


@pytest.fixture
def client(store: ArtifactStore, log: DecisionLog, instance: dg.DagsterInstance, clock: Clock) -> Iterator[TestClient]:
    with client_for(store, instance, clock, decision_db_url=log.url) as client:
        yield client


def decide(
    client: TestClient, decision: LiveDecision, final: str, reason: str, comment: str = COMMENT, **form: str
) -> httpx.Response:
    fields = {"csrf_token": token(client, "/referrals"), "final_decision": final, "reason_code": reason}
    return client.post(f"/referrals/{decision.decision_id}/decision", data={**fields, "comment": comment, **form})


def last_audit(store: ArtifactStore) -> tuple:
    entry = audit_log(store).entries()[-1]
    return entry["user"], entry["action"], entry["outcome"]


def money(amount: float) -> str:
    """An amount as the pages show it: to the cent, with thousands separators."""
    return f"{amount:,.0f}" if float(amount).is_integer() else f"{amount:,.2f}"


def rows_of(page: str) -> list[str]:
    """The decision IDs of the queue's rows, top to bottom."""
    return [chunk.split('"')[0] for chunk in page.split('<tr id="referral-')[1:]]


def test_an_underwriter_sees_the_queue_oldest_first_without_protected_attributes(
    client: TestClient, log: DecisionLog, clock: Clock, store: ArtifactStore
) -> None:
    arrivals = [Arrival(5), Arrival(1), Arrival(20), Arrival(2, "approve"), Arrival(3, "decline")]
    late, early, oldest, approved, declined = log_arrivals(log, moment(clock.now), arrivals)
    log_in(client, UNDERWRITER)
    page = client.get("/referrals")
    assert page.status_code == 200 and 'href="/referrals">Referrals</a>' in page.text
    assert rows_of(page.text) == [oldest.decision_id, late.decision_id, early.decision_id]
    row = page.text.split(f'id="referral-{oldest.decision_id}"')[1].split("</tr>")[0]
    facts = oldest.inputs
    for shown in (str(oldest.application_id), "18.0 %", "External credit score 2 too low", oldest.model_version,
                  money(facts["AMT_CREDIT"]), money(facts["AMT_INCOME_TOTAL"]), facts["NAME_CONTRACT_TYPE"],
                  employment(facts["DAYS_EMPLOYED"]), "20 h 0 min"):  # fmt: skip
        assert shown in row, shown
    assert late.inputs["DAYS_EMPLOYED"] == 365_243  # the generator's pensioner or unemployed applicant
    sentinel = page.text.split(f'id="referral-{late.decision_id}"')[1].split("</tr>")[0]
    assert "<dd>none recorded</dd>" in sentinel and "365,243" not in sentinel
    assert "Protected attributes (sex, age, marital status" in page.text
    detail = client.get(f"/referrals/{oldest.decision_id}")
    assert detail.status_code == 200 and "Decide the referral" in detail.text
    assert last_audit(store) == (UNDERWRITER, "referrals", "ok")
    for text in (page.text, detail.text):
        for name in HIDDEN:
            assert name not in text, name
        for decision in (late, early, oldest):  # nor an age under another label
            assert f">{decision.inputs['DAYS_BIRTH']:,.0f}<" not in text
    assert f"<dd>{money(facts['AMT_GOODS_PRICE'])}</dd>" in detail.text and "<code>EXT_SOURCE_1</code>" in detail.text


def test_only_underwriters_see_applications_and_underwriters_neither_upload_nor_approve_models(
    client: TestClient, log: DecisionLog, clock: Clock, store: ArtifactStore
) -> None:
    (referral,) = log_arrivals(log, moment(clock.now), [Arrival(3)])
    for name in ("victor", "olga", "mira"):
        log_in(client, name)
        role = UserStore(store.portal_users_file).get(name).role.value
        assert 'href="/referrals"' not in client.get("/").text
        for path in ("/referrals", f"/referrals/{referral.decision_id}", f"/referrals/find?q={referral.decision_id}"):
            answer = client.get(path)
            assert answer.status_code == 403 and "only underwriters see applications" in answer.text, path
            assert last_audit(store) == (name, "referrals", f"refused: {role} role")
        assert decide(client, referral, "decline", "income_not_verified").status_code == 403
        assert last_audit(store) == (name, "underwriting", f"refused: {role} role")
        client.post("/logout", data={"csrf_token": token(client, "/")})
    assert log.underwriting_of([referral.decision_id]) == {}
    log_in(client, UNDERWRITER)
    upload = client.post(
        "/upload",
        data={"csrf_token": token(client, "/"), "month": "2021-01"},
        files={"file": ("a.csv", b"SK_ID_CURR\n1\n", "text/csv")},
    )
    assert upload.status_code == 403 and last_audit(store) == (UNDERWRITER, "upload", "refused: underwriter role")
    model = client.post("/models/lightgbm-0000000000000000/decision", data={"csrf_token": token(client, "/")})
    assert model.status_code == 403 and "only model_risk users decide" in model.text


def test_a_decided_referral_leaves_the_queue_is_audited_and_cannot_be_decided_again(
    client: TestClient, log: DecisionLog, clock: Clock, store: ArtifactStore
) -> None:
    decided, waiting = log_arrivals(log, moment(clock.now), [Arrival(6), Arrival(4)])
    log_in(client, UNDERWRITER)
    answer = decide(client, decided, "decline", "income_not_verified", f"  {COMMENT}  ")
    assert answer.status_code == 303 and answer.headers["location"] == "/referrals"
    entry = log.underwriting_of([decided.decision_id])[decided.decision_id]
    assert (entry.underwriter, entry.final_decision, entry.reason_code, entry.comment, entry.override) == (
        UNDERWRITER, "decline", "income_not_verified", COMMENT, False
    )  # fmt: skip
    audited = audit_log(store).entries()[-1]
    assert (audited["user"], audited["action"], audited["outcome"], audited["month"]) == (
        UNDERWRITER, "underwriting", "ok", decided.month
    )  # fmt: skip
    assert decided.decision_id in audited["detail"] and "decline (income_not_verified)" in audited["detail"]
    assert COMMENT not in audited["detail"]  # the comment stays in the decision log
    queue = client.get("/referrals").text
    assert f"Recorded: application {decided.application_id} declined, reason: Income could not be verified." in queue
    assert rows_of(queue) == [waiting.decision_id]
    assert "Recorded:" not in client.get("/referrals").text  # the confirmation is shown once
    page = client.get(f"/referrals/{decided.decision_id}").text  # the notice owed, the underwriter's reason first
    owed = page[page.index("Adverse-action notice owed") :]
    assert "Unable to verify income" in owed and owed.index("Unable to verify income") < owed.index(decided.reasons[0])
    again = decide(client, decided, "approve", "income_verified")  # a second tab's stale form
    assert again.status_code == 409 and f"was decided by {UNDERWRITER}" in again.text
    assert last_audit(store) == (UNDERWRITER, "underwriting", "refused: already decided")
    assert log.underwriting_of([decided.decision_id]) == {decided.decision_id: entry}
    page = client.get(f"/referrals/{decided.decision_id}").text
    assert "Underwriter&#39;s decision" in page and COMMENT in page and 'action="/referrals/' not in page


@pytest.mark.parametrize(
    ("final", "reason", "comment", "title"),
    [
        ("approve", "income_not_verified", COMMENT, "reason does not fit"),
        ("decline", "income_verified", COMMENT, "reason does not fit"),
        ("decline", "../../etc/passwd", COMMENT, "reason does not fit"),
        ("hold", "income_verified", COMMENT, "unknown decision"),
        ("decline", "income_not_verified", "too short", "comment needed"),
        ("decline", "income_not_verified", "x" * 2001, "comment needed"),
    ],
)
def test_a_decision_needs_a_fitting_reason_and_a_comment(
    client: TestClient, log: DecisionLog, clock: Clock, store: ArtifactStore, final, reason, comment, title
) -> None:
    (referral,) = log_arrivals(log, moment(clock.now), [Arrival(2)])
    log_in(client, UNDERWRITER)
    answer = decide(client, referral, final, reason, comment)
    assert answer.status_code == 400
    assert last_audit(store) == (UNDERWRITER, "underwriting", f"refused: {title}")
    assert log.underwriting_of([referral.decision_id]) == {}
    assert rows_of(client.get("/referrals").text) == [referral.decision_id]


def test_an_override_of_an_automatic_approve_is_found_by_lookup_and_needs_a_decline_reason(
    client: TestClient, log: DecisionLog, clock: Clock, store: ArtifactStore
) -> None:
    (approved,) = log_arrivals(log, moment(clock.now), [Arrival(30, "approve")])
    log_in(client, UNDERWRITER)
    assert rows_of(client.get("/referrals").text) == []  # an automatic decision is not a referral
    found = client.get(f"/referrals/find?q={approved.application_id}")
    assert found.status_code == 200 and f'href="/referrals/{approved.decision_id}"' in found.text
    lookup = audit_log(store).entries()[-1]
    looked_up = f"lookup of application {approved.application_id}: 1 decision(s)"
    assert (lookup["user"], lookup["outcome"], lookup["detail"]) == (UNDERWRITER, "ok", looked_up)
    opened = client.get(f"/referrals/find?q=+{approved.decision_id}+")
    assert opened.status_code == 303 and opened.headers["location"] == f"/referrals/{approved.decision_id}"
    page = client.get(f"/referrals/{approved.decision_id}").text
    assert "Override the automatic approve" in page and 'value="approve"' not in page
    assert 'value="income_verified"' not in page and 'value="excessive_obligations"' in page
    assert decide(client, approved, "approve", "income_verified").status_code == 400
    assert last_audit(store) == (UNDERWRITER, "underwriting", "refused: not an override")
    assert decide(client, approved, "decline", "compensating_factors").status_code == 400
    assert last_audit(store) == (UNDERWRITER, "underwriting", "refused: reason does not fit")
    assert log.underwriting_of([approved.decision_id]) == {}
    assert decide(client, approved, "decline", "excessive_obligations").status_code == 303
    entry = log.underwriting_of([approved.decision_id])[approved.decision_id]
    assert entry.override and (entry.automatic_decision, entry.final_decision) == ("approve", "decline")
    assert "override of the automatic approve" in audit_log(store).entries()[-1]["detail"]
    assert "(override of the automatic approve)" in client.get("/referrals").text
    assert "overrides the automatic approve" in client.get(f"/referrals/{approved.decision_id}").text


def test_unknown_or_malformed_ids_are_refused_before_any_lookup(
    client: TestClient, log: DecisionLog, clock: Clock, store: ArtifactStore
) -> None:
    (referral,) = log_arrivals(log, moment(clock.now), [Arrival(2)])
    log_in(client, UNDERWRITER)
    unknown = "0" * 32
    assert client.get(f"/referrals/{unknown}").status_code == 404
    assert last_audit(store) == (UNDERWRITER, "referrals", "refused: unknown decision")
    for malformed in (referral.decision_id.upper(), referral.decision_id + "0", "1%20OR%201=1"):
        assert client.get(f"/referrals/{malformed}").status_code == 404, malformed
        assert last_audit(store) == (UNDERWRITER, "referrals", "refused: malformed decision ID")
    fields = {"csrf_token": token(client, "/referrals"), "final_decision": "decline"}
    form = {**fields, "reason_code": "income_not_verified", "comment": COMMENT}
    assert client.post(f"/referrals/{unknown}/decision", data=form).status_code == 404
    assert last_audit(store) == (UNDERWRITER, "underwriting", "refused: unknown decision")
    assert client.post("/referrals/xyz/decision", data=form).status_code == 404
    assert last_audit(store) == (UNDERWRITER, "underwriting", "refused: malformed decision ID")
    lookup = client.get("/referrals/find", params={"q": "x" * 5000})
    assert lookup.status_code == 400 and "Give a decision ID" in lookup.text
    entry = audit_log(store).entries()[-1]
    assert entry["outcome"] == "refused: malformed lookup" and len(entry["detail"]) < 100
    assert log.underwriting_of([referral.decision_id]) == {}


def test_a_forged_or_oversized_form_is_refused(
    client: TestClient, log: DecisionLog, clock: Clock, store: ArtifactStore
) -> None:
    (referral,) = log_arrivals(log, moment(clock.now), [Arrival(2)])
    log_in(client, UNDERWRITER)
    client.get("/referrals")
    form = {"final_decision": "decline", "reason_code": "income_not_verified", "comment": COMMENT}
    forged = client.post(f"/referrals/{referral.decision_id}/decision", data=form)
    assert forged.status_code == 403 and "did not come from this portal" in forged.text
    assert last_audit(store) == (UNDERWRITER, "underwriting", "refused: missing or wrong CSRF token")
    assert decide(client, referral, "decline", "income_not_verified", "y" * 40_000).status_code == 413
    assert last_audit(store) == (UNDERWRITER, "underwriting", "refused: form too large")
    assert log.underwriting_of([referral.decision_id]) == {}


def test_old_referrals_and_those_near_the_notice_deadline_are_flagged(
    store: ArtifactStore, log: DecisionLog, instance: dg.DagsterInstance, clock: Clock
) -> None:
    old, fresh, late = log_arrivals(log, moment(clock.now), [Arrival(30), Arrival(2), Arrival(26 * 24)])
    with client_for(store, instance, clock, decision_db_url=log.url, referral_alert_hours=24) as client:
        log_in(client, UNDERWRITER)
        page = client.get("/referrals").text
        assert "2 older than 24 hours" in page and "1 within 7 days of the notice deadline" in page
        assert f'id="referral-{old.decision_id}" class="referral old"' in page
        assert f'id="referral-{fresh.decision_id}" class="referral"' in page
        assert f'id="referral-{late.decision_id}" class="referral old near-deadline"' in page
        assert "4 days left" in page.split(f'id="referral-{late.decision_id}"')[1].split("</tr>")[0]
        clock.now += 23 * 3600  # the fresh one waits 25 hours now: old too
        log_in(client, UNDERWRITER)  # the session ended meanwhile (8 hours at most)
        assert "3 older than 24 hours" in client.get("/referrals").text
