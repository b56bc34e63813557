"""The portal in process (Starlette's TestClient) on a real Dagster instance whose history month was ingested."""

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from fastapi.testclient import TestClient

from credit_assets.core.store import ArtifactStore
from credit_assets.portal.app import create_app
from credit_assets.portal.audit import AuditLog
from credit_assets.portal.users import Role, UserStore
from credit_assets.portal.web import PortalSettings
from credit_assets_tests.support.materialise import MONTHS, failure_message, materialize_month, storage_with

HISTORY, FIRST = MONTHS[0], MONTHS[1]
PASSWORDS = {
    "olga": "uploader-password-1",
    "victor": "viewer-password-22",
    "mira": "model-risk-password-3",  # model_risk users (test_models_page.py)
    "rita": "model-risk-password-4",
    "dana": "model-risk-password-5",
    "uma": "underwriter-password-6",  # an underwriter (test_referrals.py)
}
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Clock:
    """A clock the test moves: idle timeouts and back-off without waiting on the wall clock."""

    def __init__(self) -> None:
        self.now = time.time()  # starts as the wall clock's: a command run beside the portal sees the same sessions

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture(scope="module")
def ingested_history(tmp_path_factory: pytest.TempPathFactory, small_landing: Path, instance) -> Path:
    """A storage root whose history month was ingested into the module's instance, with two portal users."""
    root = tmp_path_factory.mktemp("portal")
    storage = storage_with(root, small_landing, [HISTORY])
    result = materialize_month(storage, HISTORY, instance=instance)
    assert result.success, failure_message(result)
    add_users(storage.store)
    return root


def add_users(store: ArtifactStore) -> None:
    """The tests' two portal users: olga uploads, victor views."""
    users = UserStore(store.portal_users_file)
    users.add("olga", Role.UPLOADER, PASSWORDS["olga"])
    users.add("victor", Role.VIEWER, PASSWORDS["victor"])


@pytest.fixture
def store(tmp_path: Path, ingested_history: Path) -> ArtifactStore:
    shutil.copytree(ingested_history, tmp_path / "root")
    return ArtifactStore.at(tmp_path / "root")


def secrets_of(store: ArtifactStore) -> Path:
    """The portal's secrets folder in these tests: beside the storage root, never under it."""
    return store.local_root.parent / "secrets"


def settings_for(store: ArtifactStore, **settings: object) -> PortalSettings:
    return PortalSettings(store.local_root, secrets_of(store), **settings)


def audit_log(store: ArtifactStore) -> AuditLog:
    return AuditLog(store.portal_audit_log, secrets_of(store))


def client_for(
    store: ArtifactStore,
    instance: dg.DagsterInstance,
    clock: Clock | None = None,
    address: str = "192.0.2.10",
    **settings: object,
) -> TestClient:
    app = create_app(settings_for(store, **settings), instance=instance, clock=clock or Clock())
    return TestClient(app, base_url="http://127.0.0.1", follow_redirects=False, client=(address, 50000))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(store: ArtifactStore, instance: dg.DagsterInstance, clock: Clock) -> Iterator[TestClient]:
    with client_for(store, instance, clock) as client:
        yield client


def token(client: TestClient, path: str = "/login") -> str:
    return TOKEN.search(client.get(path).text).group(1)


def log_in(client: TestClient, name: str) -> None:
    answer = client.post("/login", data={"username": name, "password": PASSWORDS[name], "csrf_token": token(client)})
    assert answer.status_code == 303 and answer.headers["location"] == "/"


def send(client: TestClient, month: str, path: Path, name: str | None = None, **fields: str) -> object:
    form = {"month": month, "csrf_token": token(client, "/"), **fields}
    return client.post("/upload", data=form, files={"file": (name or path.name, path.read_bytes(), "text/csv")})
