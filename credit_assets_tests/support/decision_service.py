"""A real decision service (`credit-assets serve` in its own process) on a storage root, and a client for it."""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from credit_assets.core.databases import DECISION_DB_ENV
from credit_assets.core.decisions.log import DecisionLog
from credit_assets.core.decisions.tokens import Scope, TokenStore
from credit_assets.core.store import ArtifactStore
from credit_assets.defs.storage import StorageResource
from credit_assets_tests.support.e2e import HOST, free_port, log_tail, stop_process_group, wait_until
from credit_assets_tests.support.live_decisions import records_of


@dataclass(frozen=True)
class RunningService:
    url: str
    root: Path
    secrets_dir: Path
    log: DecisionLog
    decide_token: str
    read_token: str

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


def month_records(root: Path, month: str) -> list[dict[str, Any]]:
    """The month's landing file as the JSON records a caller would send (every contract column, TARGET absent)."""
    return records_of(StorageResource(root=str(root)), month)


def service_env(root: Path, secrets_dir: Path, database_url: str) -> dict[str, str]:
    env = {**os.environ, "CREDIT_ASSETS_SECRETS_DIR": str(secrets_dir), DECISION_DB_ENV: database_url}
    env.pop("DAGSTER_PG_HOST", None)
    return env


@contextmanager
def decision_service(root: Path, database_url: str, poll_seconds: float = 0.2) -> Iterator[RunningService]:
    """`credit-assets serve` on a free loopback port, with a decide and a read token; stopped afterwards."""
    secrets_dir = root.parent / "secrets"
    env = service_env(root, secrets_dir, database_url)
    os.environ[DECISION_DB_ENV] = database_url  # for the tokens made here, as the CLI would make them
    log = DecisionLog(database_url)
    tokens = TokenStore(log)
    decide, read = tokens.create("caller", Scope.DECIDE)[1], tokens.create("reader", Scope.READ)[1]
    port = free_port()
    output = root.parent / "serve.log"
    command = [sys.executable, "-m", "credit_assets.cli", "serve", "--root", str(root), "--port", str(port)]
    command += ["--poll-seconds", str(poll_seconds)]
    with open(output, "wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://{HOST}:{port}"
    try:
        wait_until(lambda: _answers(url) or process.poll() is not None, 60, "the decision service", interval=0.1)
        assert process.poll() is None, log_tail(output)
        yield RunningService(url, root, secrets_dir, log, decide, read)
    finally:
        stop_process_group(process)
        os.environ.pop(DECISION_DB_ENV, None)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code in (200, 503)
    except httpx.TransportError:
        return False


def forecasts_of(root: Path, month: str) -> pd.DataFrame:
    return ArtifactStore.at(root).read_table("forecasts", month)
