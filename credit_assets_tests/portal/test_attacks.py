"""The portal tried as an attacker would: stolen and stale sessions, racing uploads, audit-log floods and edits,
lockouts, forged forms, oversized and malformed bodies, path tricks. Each test fails on the portal before
issue 25 and passes after."""

import hashlib
import io
import json
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from credit_assets import cli
from credit_assets.core.months import landing_file_name
from credit_assets.core.store import ArtifactStore
from credit_assets.portal.app import create_app
from credit_assets.portal.audit import AuditEvent, AuditLogBroken
from credit_assets.portal.users import generate_password
from credit_assets_tests.portal.conftest import (
    FIRST,
    PASSWORDS,
    TOKEN,
    Clock,
    audit_log,
    client_for,
    log_in,
    secrets_of,
    send,
    settings_for,
    token,
)
from credit_assets_tests.support.e2e import HOST, free_port, wait_until


def entries(store: ArtifactStore) -> list[dict]:
    return audit_log(store).entries()


def outcomes(store: ArtifactStore) -> list[tuple]:
    return [(entry["user"], entry["action"], entry["outcome"]) for entry in entries(store)]


def attempt(client: TestClient, name: str, password: str) -> httpx.Response:
    return client.post("/login", data={"username": name, "password": password, "csrf_token": token(client)})


def run_cli(store: ArtifactStore, *args: str, stdin: str = "") -> tuple[int, str]:
    """`credit-assets ARGS` in process against the test's storage root and secrets folder; (status, output)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CREDIT_ASSETS_SECRETS_DIR", str(secrets_of(store)))
        patch.setattr("sys.stdin", io.StringIO(stdin))
        output = io.StringIO()
        patch.setattr("sys.stdout", output)
        status = cli.main([*args, "--root", str(store.local_root)])
    return status, output.getvalue()


# --- sessions -------------------------------------------------------------------------------------------------


def test_logout_ends_the_session_on_the_server(
    client: TestClient, store: ArtifactStore, instance: dg.DagsterInstance, small_landing: Path
) -> None:
    log_in(client, "olga")
    stolen_cookies, stolen_token = dict(client.cookies), token(client, "/")
    assert client.post("/logout", data={"csrf_token": stolen_token}).status_code == 303
    with client_for(store, instance) as thief:
        thief.cookies.update(stolen_cookies)
        assert thief.get("/").headers["location"] == "/login"
        assert thief.get(f"/months/{FIRST}/notices.csv").headers["location"] == "/login"
        source = small_landing / landing_file_name(FIRST)
        form = {"month": FIRST, "csrf_token": stolen_token}
        answer = thief.post("/upload", data=form, files={"file": (source.name, source.read_bytes(), "text/csv")})
        assert answer.headers["location"] == "/login"
    assert not store.local_root.joinpath("landing", landing_file_name(FIRST)).exists()


def test_a_new_password_or_an_administrator_ends_open_sessions(
    store: ArtifactStore, instance: dg.DagsterInstance
) -> None:
    with client_for(store, instance) as olga, client_for(store, instance) as victor:
        log_in(olga, "olga")
        log_in(victor, "victor")
        status, said = run_cli(store, "add-user", "olga", "--role", "uploader", "--replace", "--password-stdin",
                               stdin="a-brand-new-password-7\n")  # fmt: skip
        assert status == 0 and "1 open session(s) of olga ended" in said
        assert olga.get("/").headers["location"] == "/login"
        assert victor.get("/").status_code == 200
        assert run_cli(store, "sessions", "list")[1].startswith("victor: opened ")
        assert run_cli(store, "sessions", "revoke", "--all") == (0, "1 session(s) ended\n")
        assert victor.get("/").headers["location"] == "/login"


def test_an_idle_session_ends_and_a_used_one_stays_open(client: TestClient, clock: Clock) -> None:
    log_in(client, "olga")
    for _ in range(3):  # used every 20 minutes: open for an hour
        clock.now += 20 * 60
        assert client.get("/").status_code == 200
    clock.now += 31 * 60
    assert client.get("/").headers["location"] == "/login"


def test_a_session_ends_after_its_lifetime_however_busy(client: TestClient, clock: Clock) -> None:
    log_in(client, "olga")
    opened = clock.now
    for _ in range(8 * 3):
        clock.now += 20 * 60
        if client.get("/").status_code != 200:
            break
    assert client.get("/").headers["location"] == "/login"
    assert clock.now - opened == 8 * 3600  # open through 7 h 40 min of use, closed at 8 h


# --- one upload per month -------------------------------------------------------------------------------------


@contextmanager
def served(store: ArtifactStore, instance: dg.DagsterInstance) -> Iterator[str]:
    """The portal under uvicorn on a loopback port, in a thread of this process: concurrent requests for real."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings_for(store), instance), HOST, port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, 60, "the portal under uvicorn")
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(60)


def test_concurrent_uploads_of_a_month_land_once(
    store: ArtifactStore, instance: dg.DagsterInstance, small_landing: Path
) -> None:
    source = small_landing / landing_file_name(FIRST)
    uploads = 4
    with served(store, instance) as url:
        clients = [httpx.Client(base_url=url, follow_redirects=False, timeout=120) for _ in range(uploads)]
        for browser in clients:
            log_in(browser, "olga")
        forms = [{"month": FIRST, "csrf_token": token(browser, "/")} for browser in clients]
        together, answers = threading.Barrier(uploads), [None] * uploads

        def upload(number: int) -> None:
            together.wait()
            file = {"file": (source.name, source.read_bytes(), "text/csv")}
            answers[number] = clients[number].post("/upload", data=forms[number], files=file)

        threads = [threading.Thread(target=upload, args=(number,)) for number in range(uploads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        for browser in clients:
            browser.close()
    assert sorted(answer.status_code for answer in answers) == [200] + [409] * (uploads - 1)
    refused = [answer.text for answer in answers if answer.status_code == 409]
    assert all("Upload under way" in text or "already has a landed file" in text for text in refused)
    landed = [entry for entry in entries(store) if entry["outcome"] == "landed"]
    assert (
        len(landed) == 1
        and store.local_root.joinpath("landing", landing_file_name(FIRST)).read_bytes() == source.read_bytes()
    )
    assert (
        sum(entry["outcome"].startswith("refused: upload under way") for entry in entries(store))
        + sum(entry["outcome"] == "refused: month already landed" for entry in entries(store))
        == uploads - 1
    )


# --- the audit log ----------------------------------------------------------------------------------------------


def test_the_audit_log_cannot_be_flooded_without_a_login(client: TestClient, store: ArtifactStore) -> None:
    huge = "x" * 1_000_000
    for _ in range(8):
        assert attempt(client, huge, "guess").status_code in (401, 429)
    text = store.portal_audit_log.read_text()
    assert len(text) < 8 * 1000 and "x" * 100 not in text
    assert all(entry["user"] is None for entry in entries(store))
    assert "an unknown or malformed user name (1,000,000 characters) was tried" in entries(store)[0]["detail"]
    assert store.portal_audit_log.stat().st_mode & 0o777 == 0o600


def test_a_password_typed_as_the_user_name_never_reaches_the_log(client: TestClient, store: ArtifactStore) -> None:
    typed = [generate_password(), PASSWORDS["olga"]]  # a random one, and one that looks like a user name
    for password in typed:
        assert attempt(client, password, "anything").status_code == 401
    text = store.portal_audit_log.read_text()
    assert not any(password in text for password in typed)
    assert outcomes(store) == [(None, "login", "refused: wrong user name or password")] * 2


def test_an_oversized_login_is_audited_as_a_login(store: ArtifactStore, instance: dg.DagsterInstance) -> None:
    with client_for(store, instance, max_upload_bytes=100_000) as client:
        answer = client.post("/login", data={"username": "y" * 300_000, "csrf_token": token(client)})
    assert answer.status_code == 413
    assert outcomes(store)[-1] == (None, "login", "refused: over the size limit")


def test_every_field_is_bounded_with_its_length(client: TestClient, store: ArtifactStore) -> None:
    log_in(client, "olga")
    assert client.get(f"/months/{FIRST}/{'n' * 5000}.csv").status_code == 404
    last = entries(store)[-1]
    assert (last["user"], last["outcome"]) == ("olga", "refused: unknown download")
    assert last["file"].endswith("... (5,004 characters)") and len(last["file"]) < 250


def reseal_unkeyed(path: Path, lines: list[dict]) -> None:
    """What an attacker without the key does after an edit: recompute a SHA-256 chain over every line."""
    previous = "0" * 64
    for number, entry in enumerate(lines, start=1):
        entry.update(sequence=number, previous_hmac_sha256=previous)
        content = {key: value for key, value in entry.items() if key != "hmac_sha256"}
        entry["hmac_sha256"] = previous = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    path.write_text("".join(json.dumps(entry, sort_keys=True) + "\n" for entry in lines))


def filled_log(store: ArtifactStore, count: int) -> list[dict]:
    log = audit_log(store)
    for number in range(count):
        log.record(AuditEvent("olga", "page", f"{number}"))
    return log.entries()


@pytest.mark.parametrize("edit", ["edited and re-chained", "20 middle lines deleted and re-chained", "end cut off"])
def test_a_rewritten_audit_log_is_found_and_verify_names_the_first_bad_line(store: ArtifactStore, edit: str) -> None:
    lines = filled_log(store, 30)
    if edit == "edited and re-chained":
        lines[4]["outcome"] = "nothing happened"
        reseal_unkeyed(store.portal_audit_log, lines)
    elif edit == "20 middle lines deleted and re-chained":
        reseal_unkeyed(store.portal_audit_log, lines[:5] + lines[25:])
    else:
        text = store.portal_audit_log.read_text().splitlines(keepends=True)
        store.portal_audit_log.write_text("".join(text[:-3]))
    status, said = run_cli(store, "audit", "verify")
    assert status == 1
    expected = {"edited and re-chained": "line 1:", "20 middle lines deleted and re-chained": "line 1:"}
    assert "audit log DAMAGED at line" in said and expected.get(edit, "line 27:") in said
    with pytest.raises(AuditLogBroken):
        audit_log(store).record(AuditEvent(None, "x", "y"))


def test_an_intact_log_verifies_and_appends_read_only_its_newest_line(store: ArtifactStore) -> None:
    filled_log(store, 5)
    assert run_cli(store, "audit", "verify")[1].startswith("audit log intact: 5 entries")
    text = store.portal_audit_log.read_text().splitlines(keepends=True)
    text[1] = text[1].replace('"1"', '"one"')  # a middle line edited: appends do not re-read it ...
    store.portal_audit_log.write_text("".join(text))
    os.utime(store.portal_audit_log)
    audit_log(store).record(AuditEvent(None, "x", "y"))
    assert run_cli(store, "audit", "verify")[0] == 1  # ... and verify finds it


def test_a_damaged_log_refuses_with_a_clear_503_and_recovers_once_archived(
    client: TestClient, store: ArtifactStore, small_landing: Path
) -> None:
    log_in(client, "olga")
    store.portal_audit_log.write_text(store.portal_audit_log.read_text().replace('"olga"', '"mallory"'))
    refused = client.get(f"/months/{FIRST}/forecasts.csv")
    assert refused.status_code == 503 and "credit-assets audit verify" in refused.text
    assert "The portal cannot record actions" in client.get("/").text
    not_landed = send(client, FIRST, small_landing / landing_file_name(FIRST))
    assert not_landed.status_code == 503 and not store.local_root.joinpath("landing", landing_file_name(FIRST)).exists()
    status, said = run_cli(store, "audit", "archive")
    assert status == 0 and "archived" in said
    assert client.get(f"/months/{FIRST}/forecasts.csv").status_code == 404  # audited again: not produced yet
    assert [entry["action"] for entry in entries(store)] == ["audit", "download"]
    assert len(list(store.portal_dir.glob("audit.archived-*.jsonl"))) == 1


# --- login throttling ---------------------------------------------------------------------------------------


def test_a_strangers_wrong_passwords_do_not_lock_out_the_owner(
    store: ArtifactStore, instance: dg.DagsterInstance, clock: Clock
) -> None:
    app = create_app(settings_for(store), instance=instance, clock=clock)
    stranger = TestClient(app, base_url="http://127.0.0.1", follow_redirects=False, client=("203.0.113.9", 1))
    owner = TestClient(app, base_url="http://127.0.0.1", follow_redirects=False, client=("192.0.2.10", 1))
    with stranger, owner:
        answers = [attempt(stranger, "olga", "guess").status_code for _ in range(5)]
        assert answers == [401, 401, 401, 429, 429]  # the fourth try waits 1 s, the fifth too
        log_in(owner, "olga")
        clock.now += 1.5
        assert attempt(stranger, "olga", "guess").status_code == 401
        waited = attempt(stranger, "olga", PASSWORDS["olga"])
        assert waited.status_code == 429 and "try again in 2 seconds" in waited.text
        clock.now += 2.5
        assert attempt(stranger, "olga", PASSWORDS["olga"]).status_code == 303


def test_many_names_from_one_address_are_slowed(store: ArtifactStore, instance: dg.DagsterInstance) -> None:
    with client_for(store, instance, address="203.0.113.9") as stranger:
        answers = [attempt(stranger, f"name{number}", "guess").status_code for number in range(30)]
    assert answers[:20] == [401] * 20 and answers[20:] == [429] * 10
    with client_for(store, instance) as owner:
        log_in(owner, "olga")


# --- refusals are audited, within limits ---------------------------------------------------------------------


def test_refusals_for_want_of_a_login_are_audited_and_rate_limited(
    client: TestClient, store: ArtifactStore, clock: Clock
) -> None:
    for path in ("/", f"/months/{FIRST}/forecasts.csv", f"/months/{FIRST}/secret.txt"):
        assert client.get(path).headers["location"] == "/login"
    assert client.post("/upload", data={"month": FIRST}).headers["location"] == "/login"
    assert outcomes(store) == [
        (None, "page", "refused: not logged in"),
        (None, "download", "refused: not logged in"),
        (None, "download", "refused: not logged in"),
        (None, "upload", "refused: not logged in"),
    ]
    for _ in range(200):
        client.get("/")
    assert len(entries(store)) == 10  # ten a minute from one address
    clock.now += 61
    client.get("/")
    assert entries(store)[-1]["detail"] == "/; 194 similar refusal(s) not logged one by one"


def test_a_malformed_multipart_body_is_refused_and_audited(client: TestClient, store: ArtifactStore) -> None:
    log_in(client, "olga")
    answer = client.post(
        "/upload",
        content=b"--xyz\r\nContent-Type: text/plain\r\n\r\n2020-10\r\n--xyz--\r\n",  # a part without a name
        headers={"content-type": "multipart/form-data; boundary=xyz"},
    )
    assert answer.status_code == 400 and "The form could not be read" in answer.text
    assert outcomes(store)[-1] == ("olga", "upload", "refused: malformed form")


# --- forms, sizes and paths -----------------------------------------------------------------------------------


@pytest.mark.parametrize("forgery", ["a forged token", "another session's token"])
@pytest.mark.parametrize("form", ["login", "upload", "logout"])
def test_forged_csrf_tokens_are_refused(
    form: str, forgery: str, store: ArtifactStore, instance: dg.DagsterInstance, small_landing: Path
) -> None:
    with client_for(store, instance) as victim, client_for(store, instance, address="203.0.113.9") as attacker:
        if form != "login":
            log_in(victim, "olga")
        forged = "A" * 43 if forgery == "a forged token" else token(attacker, "/login")
        assert forged != TOKEN.search(victim.get("/login").text).group(1)
        source = small_landing / landing_file_name(FIRST)
        if form == "login":
            answer = victim.post(
                "/login", data={"username": "olga", "password": PASSWORDS["olga"], "csrf_token": forged}
            )
        elif form == "upload":
            file = {"file": (source.name, source.read_bytes(), "text/csv")}
            answer = victim.post("/upload", data={"month": FIRST, "csrf_token": forged}, files=file)
        else:
            answer = victim.post("/logout", data={"csrf_token": forged})
        assert answer.status_code == 403 and "did not come from this portal" in answer.text
        if form == "logout":
            assert victim.get("/").status_code == 200  # still logged in: a forged logout changes nothing
    assert not store.local_root.joinpath("landing", landing_file_name(FIRST)).exists()
    assert outcomes(store)[-1][1:] == (form, "refused: missing or wrong CSRF token")


def test_a_chunked_body_without_a_length_is_cut_off_at_the_limit(
    store: ArtifactStore, instance: dg.DagsterInstance
) -> None:
    with client_for(store, instance, max_upload_bytes=100_000) as client:
        log_in(client, "olga")
        boundary = "b0undary"
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'.encode()

        def chunks() -> Iterator[bytes]:
            yield head
            for _ in range(100):  # 6.4 MB, never declared
                yield b"z" * 64_000

        answer = client.post(
            "/upload", content=chunks(), headers={"content-type": f"multipart/form-data; boundary={boundary}"}
        )
        assert "content-length" not in answer.request.headers
    assert answer.status_code == 413 and "limit of 100,000 bytes" in answer.text
    assert outcomes(store)[-1] == ("olga", "upload", "refused: over the size limit")


def test_a_file_just_over_the_limit_is_refused_by_the_per_file_check(
    store: ArtifactStore, instance: dg.DagsterInstance, small_landing: Path, tmp_path: Path
) -> None:
    source = small_landing / landing_file_name(FIRST)
    limit = source.stat().st_size - 1  # the body, with its form fields, is within the request limit
    with client_for(store, instance, max_upload_bytes=limit) as client:
        log_in(client, "olga")
        answer = send(client, FIRST, source)
    assert answer.status_code == 413 and "Nothing was landed" in answer.text
    assert not store.local_root.joinpath("landing", landing_file_name(FIRST)).exists()
    assert not list((store.portal_dir / "staging").iterdir())
    assert outcomes(store)[-1] == ("olga", "upload", "refused: file too large")


@pytest.mark.parametrize("name", ["../../landing/applications_2020-12.csv", "%2e%2e%2f%2e%2e%2fusers.csv", "..\\x.csv"])
def test_a_path_in_the_uploaded_file_name_goes_nowhere(
    name: str, client: TestClient, store: ArtifactStore, small_landing: Path
) -> None:
    log_in(client, "olga")
    answer = send(client, FIRST, small_landing / landing_file_name(FIRST), name=name)
    assert answer.status_code == 200
    assert sorted(path.name for path in (store.local_root / "landing").iterdir()) == sorted(
        [landing_file_name(month) for month in ("2020-09", FIRST)]
    )
    assert not (store.local_root.parent / "users.csv").exists() and not (store.local_root / "users.csv").exists()


@pytest.mark.parametrize(
    "path",
    [
        f"/months/{FIRST}/..%2f..%2fportal%2fusers.json",
        f"/months/{FIRST}/%2e%2e",
        "/months/%2e%2e/forecasts.csv",
        f"/months/{FIRST}/../../portal/users.json",
    ],
)
def test_a_path_in_a_download_name_goes_nowhere(path: str, client: TestClient, store: ArtifactStore) -> None:
    log_in(client, "olga")
    answer = client.get(path)
    assert answer.status_code == 404 and "argon2" not in answer.text
    assert not [entry for entry in entries(store) if entry["action"] == "download" and entry["outcome"] == "ok"]
    last = entries(store)[-1]
    assert last["user"] == "olga" and last["outcome"] in (
        "refused: unknown download",
        "refused: unknown month",
        "refused: 404",
    )


def test_a_viewer_downloads_a_produced_file(client: TestClient, store: ArtifactStore, small_landing: Path) -> None:
    produced = store.local_root / "forecasts" / f"forecasts_{FIRST}.csv"
    produced.parent.mkdir(parents=True)
    shutil.copy(small_landing / landing_file_name(FIRST), produced)
    log_in(client, "victor")
    answer = client.get(f"/months/{FIRST}/forecasts.csv")
    assert answer.status_code == 200 and answer.content == produced.read_bytes()
    assert f'filename="forecasts_{FIRST}.csv"' in answer.headers["content-disposition"]
    last = entries(store)[-1]
    assert (last["user"], last["outcome"]) == ("victor", "ok")
    assert last["file_sha256"] == hashlib.sha256(produced.read_bytes()).hexdigest()


def test_logout_ends_the_session_even_when_the_audit_log_is_damaged(client: TestClient, store: ArtifactStore) -> None:
    log_in(client, "olga")
    csrf = token(client, "/")
    store.portal_audit_log.write_text(store.portal_audit_log.read_text().replace('"olga"', '"mallory"'))
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 503
    assert client.get("/").headers["location"] == "/login"
