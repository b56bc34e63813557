"""The portal in process (Starlette's TestClient) on a real Dagster instance: logins, roles, CSRF, the upload
pre-check, refusals that change nothing, downloads and the audit trail."""

import hashlib
import shutil
from pathlib import Path

import dagster as dg
import pytest
from fastapi.testclient import TestClient

from credit_assets.core.months import landing_file_name
from credit_assets.core.store import ArtifactStore
from credit_assets.portal import status
from credit_assets.portal.audit import AuditLogBroken
from credit_assets.portal.users import Role, UserError, UserStore
from credit_assets_tests.portal.conftest import (
    FIRST,
    HISTORY,
    PASSWORDS,
    audit_log,
    client_for,
    log_in,
    send,
    token,
)
from credit_assets_tests.support.bad_files import set_value
from credit_assets_tests.support.materialise import materialize_month, storage_with


def snapshot(store: ArtifactStore) -> dict[str, str]:
    """Every landing file and stored table, by content."""
    files = [*(store.local_root / "landing").glob("*"), *(store.local_root / "tables").rglob("*.parquet")]
    return {str(path.relative_to(store.local_root)): hashlib.sha256(path.read_bytes()).hexdigest() for path in files}


def test_every_page_and_download_needs_a_login(client: TestClient) -> None:
    for path in ("/", f"/months/{FIRST}/forecasts.csv", f"/months/{FIRST}/notices.csv"):
        answer = client.get(path)
        assert (answer.status_code, answer.headers["location"]) == (303, "/login")
    assert client.post("/upload", data={"month": FIRST}).headers["location"] == "/login"


def test_login_needs_the_right_password_and_the_forms_token(client: TestClient, store: ArtifactStore) -> None:
    wrong = client.post("/login", data={"username": "olga", "password": "guess", "csrf_token": token(client)})
    assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
    forged = client.post("/login", data={"username": "olga", "password": PASSWORDS["olga"]})
    assert forged.status_code == 403
    log_in(client, "olga")
    page = client.get("/")
    assert page.status_code == 200 and "olga (uploader)" in page.text
    assert f'id="month-{HISTORY}"' in page.text and "ingested" in page.text
    entries = audit_log(store).entries()
    outcomes = [(entry["user"], entry["action"], entry["outcome"]) for entry in entries]
    assert outcomes == [
        ("olga", "login", "refused: wrong user name or password"),
        (None, "login", "refused: missing or wrong CSRF token"),
        ("olga", "login", "ok"),
    ]


def test_a_good_month_is_prechecked_and_landed_under_the_months_name(
    client: TestClient, store: ArtifactStore, small_landing: Path, instance: dg.DagsterInstance
) -> None:
    log_in(client, "olga")
    source = small_landing / landing_file_name(FIRST)
    answer = send(client, FIRST, source, name="march export (final).csv")
    assert answer.status_code == 200 and f"{FIRST} landed" in answer.text
    landed = store.local_root.joinpath("landing", landing_file_name(FIRST))
    assert landed.read_bytes() == source.read_bytes()
    assert not list((store.portal_dir / "staging").iterdir())
    assert status.month_status(instance, store, FIRST).state == "landed"
    entry = audit_log(store).entries()[-1]
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    assert (entry["action"], entry["outcome"], entry["month"]) == ("upload", "landed", FIRST)
    assert entry["file_sha256"] == digest
    assert entry["detail"] == "sent as 'march export (final).csv'" and entry["file"] == landing_file_name(FIRST)


def test_a_broken_file_shows_column_rule_and_rows_and_lands_nothing(
    client: TestClient, store: ArtifactStore, small_landing: Path, tmp_path: Path
) -> None:
    log_in(client, "olga")
    broken = Path(shutil.copy(small_landing / landing_file_name(FIRST), tmp_path / "broken.csv"))
    set_value("AMT_CREDIT", 3, "lots")(broken)
    before = snapshot(store)
    answer = send(client, FIRST, broken)
    assert answer.status_code == 422
    for words in ("not landed", "AMT_CREDIT", "numeric (float64)", "&#39;lots&#39;", "line 5"):
        assert words in answer.text
    assert snapshot(store) == before
    assert audit_log(store).entries()[-1]["outcome"] == "refused: 1 problem(s)"


@pytest.mark.parametrize(
    ("case", "status_code", "words"),
    [
        ("wrong file type", 415, "as a .csv file"),
        ("month outside the partitions", 404, "is not a month the pipeline scores"),
        ("month as a path", 404, "is not a month the pipeline scores"),
        ("forged form without the token", 403, "did not come from this portal"),
        ("landed month without confirmation", 409, "Tick &#39;replace the landed file&#39;"),
        ("file over the limit", 413, "limit of 100,000 bytes"),
    ],
)
def test_refused_uploads_change_nothing(
    case: str,
    status_code: int,
    words: str,
    store: ArtifactStore,
    instance: dg.DagsterInstance,
    small_landing: Path,
) -> None:
    limit = {"max_upload_bytes": 100_000} if case == "file over the limit" else {}
    good = small_landing / landing_file_name(FIRST)
    form = {
        "wrong file type": (FIRST, "applications.xlsx"),
        "month outside the partitions": ("2019-01", None),
        "month as a path": ("../../etc", None),
        "forged form without the token": (FIRST, None),
        "landed month without confirmation": (HISTORY, None),
        "file over the limit": (FIRST, None),
    }[case]
    before = snapshot(store)
    with client_for(store, instance, **limit) as client:
        log_in(client, "olga")
        if case == "forged form without the token":
            answer = client.post("/upload", data={"month": FIRST}, files={"file": (good.name, good.read_bytes())})
        else:
            answer = send(client, form[0], good, name=form[1])
    assert answer.status_code == status_code and words in answer.text
    assert snapshot(store) == before
    last = audit_log(store).entries()[-1]
    assert (last["user"], last["action"]) == ("olga", "upload") and last["outcome"].startswith("refused")


def test_a_viewer_downloads_but_cannot_upload(client: TestClient, store: ArtifactStore, small_landing: Path) -> None:
    log_in(client, "victor")
    assert "Upload a month" not in client.get("/").text
    before = snapshot(store)
    answer = send(client, FIRST, small_landing / landing_file_name(FIRST))
    assert answer.status_code == 403 and "victor is a viewer" in answer.text
    assert snapshot(store) == before
    missing = client.get(f"/months/{FIRST}/forecasts.csv")
    assert missing.status_code == 404 and "no forecasts yet" in missing.text
    outcomes = [entry["outcome"] for entry in audit_log(store).entries()]
    assert outcomes[-2:] == ["refused: viewer role", "refused: not produced yet"]


def test_responses_carry_security_headers_and_a_strict_session_cookie(client: TestClient) -> None:
    answer = client.get("/login")
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "no-store"
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert client.get("/docs").status_code == 404 and client.get("/openapi.json").status_code == 404


def test_the_audit_log_refuses_an_edited_line(client: TestClient, store: ArtifactStore) -> None:
    log_in(client, "olga")
    client.post("/logout", data={"csrf_token": token(client, "/")})
    log = audit_log(store)
    assert [entry["action"] for entry in log.entries()] == ["login", "logout"]
    store.portal_audit_log.write_text(store.portal_audit_log.read_text().replace('"olga"', '"mallory"', 1))
    with pytest.raises(AuditLogBroken, match="line 1 breaks the chain"):
        log.entries()


def test_users_are_stored_as_argon2_hashes_with_roles(tmp_path: Path) -> None:
    users = UserStore(tmp_path / "users.json")
    users.add("alice", Role.VIEWER, "correct horse battery")
    assert "correct horse" not in users.path.read_text() and "$argon2id$" in users.path.read_text()
    assert users.authenticate("alice", "correct horse battery") == users.get("alice")
    assert users.authenticate("alice", "wrong horse battery") is None
    assert users.authenticate("nobody", "correct horse battery") is None
    assert not Role.VIEWER.can_upload and Role.UPLOADER.can_upload
    with pytest.raises(UserError, match="exists"):
        users.add("alice", Role.UPLOADER, "another long password")
    with pytest.raises(UserError, match="at least 12"):
        users.add("bob", Role.VIEWER, "short")
    users.add("alice", Role.UPLOADER, "another long password", replace=True)
    assert users.get("alice").role is Role.UPLOADER


def test_a_failed_month_shows_the_step_and_the_broken_rule(
    store: ArtifactStore, small_landing: Path, instance: dg.DagsterInstance
) -> None:
    landed = store.local_root.joinpath("landing", landing_file_name(FIRST))
    shutil.copy(small_landing / landing_file_name(FIRST), landed)
    set_value("NAME_CONTRACT_TYPE", 2, "Crypto loans")(landed)
    storage = storage_with(store.local_root, small_landing, [])
    assert not materialize_month(storage, FIRST, instance=instance).success
    found = status.month_status(instance, store, FIRST)
    assert found.state == "failed"
    assert "validated_applications failed" in found.detail and "levels_within_contract" in found.detail
    assert "Crypto loans" in found.detail
