"""The real `dagster dev` (webserver + daemon) on a temporary instance, a throwaway PostgreSQL, GraphQL helpers."""

import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import psycopg2
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"  # never bind beyond the loopback interface in tests
STARTUP_SECONDS = 180
SHUTDOWN_SECONDS = 30
ALLOW_SKIP_ENV = "CREDIT_ASSETS_ALLOW_SKIP_REAL_PARTS"
POSTGRES_USER = POSTGRES_DB = "dagster"

T = TypeVar("T")


def free_port() -> int:
    """A TCP port on the loopback interface that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def listening_hosts(port: int) -> set[str]:
    """Local addresses with a TCP socket listening on `port` (Linux: /proc/net/tcp and tcp6)."""
    hosts = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)  # 32-bit words in host (little-endian) order
                hosts.add(socket.inet_ntop(family, b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))))
    return hosts


def wait_until(condition: Callable[[], T], timeout: float, what: str, interval: float = 1.0) -> T:
    """Poll `condition` until it returns something truthy (returned) or the deadline passes (TimeoutError)."""
    deadline = time.monotonic() + timeout
    last: T = condition()
    while not last:
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout:.0f} s waiting for {what}; last value: {last!r}")
        time.sleep(interval)
        last = condition()
    return last


def require_tool(path: str | None, tool: str, package: str) -> str:
    """The tool's path; a failure saying how to install it, or a skip only when explicitly allowed."""
    if path and Path(path).exists():
        return path
    message = f"{tool} is not installed: run `apt-get install {package}` (Debian) to run the real-parts tests"
    if os.environ.get(ALLOW_SKIP_ENV) == "1":
        pytest.skip(f"{message} ({ALLOW_SKIP_ENV}=1)")
    pytest.fail(message, pytrace=False)


TEST_RUN_COORDINATOR = {
    "module": "dagster._core.run_coordinator",
    "class": "QueuedRunCoordinator",
    "config": {"dequeue_interval_seconds": 1},
}


def write_instance(home: Path, storage: dict[str, Any] | None = None) -> None:
    """Write the project's dagster.yaml (run queue, telemetry off) into `home`, `storage` replacing SQLite if given.

    The run queue is polled every second instead of every 5 s: a test that lands many months would otherwise
    wait 2.5 s on average between one month's run and the next."""
    config = yaml.safe_load((ROOT / "dagster_home" / "dagster.yaml").read_text())
    config["run_coordinator"] = TEST_RUN_COORDINATOR
    home.mkdir(parents=True, exist_ok=True)
    if storage:
        config["storage"] = storage
    (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


class GraphQLError(RuntimeError):
    """The GraphQL endpoint answered with errors."""


@dataclass(frozen=True)
class DagsterDev:
    """A running `dagster dev` and the GraphQL queries the tests need."""

    port: int
    home: Path
    storage_root: Path | str

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def query(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST a GraphQL document; its `data`, or GraphQLError."""
        body = json.dumps({"query": document, "variables": variables or {}}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.load(response)
        if answer.get("errors"):
            raise GraphQLError(json.dumps(answer["errors"])[:2000])
        return answer["data"]

    def runs(self) -> list[dict[str, Any]]:
        """Every run, newest first: runId, jobName, status, startTime, endTime and tags as a dict."""
        data = self.query(
            "{ runsOrError { ... on Runs { results { runId jobName status startTime endTime tags { key value } } } } }"
        )
        runs = data["runsOrError"]["results"]
        return [{**run, "tags": {tag["key"]: tag["value"] for tag in run["tags"]}} for run in runs]

    def materialisations(self, asset: str, partitions: list[str]) -> list[dict[str, Any]]:
        """The asset's materialisation events of these partitions (partition, runId, timestamp), newest first."""
        data = self.query(
            """query($path: [String!]!, $partitions: [String!]) { assetOrError(assetKey: {path: $path}) {
                 ... on Asset { assetMaterializations(partitions: $partitions) { partition runId timestamp } } } }""",
            {"path": [asset], "partitions": partitions},
        )
        return data["assetOrError"].get("assetMaterializations", [])

    def check_names(self, asset: str) -> list[str]:
        """Names of the asset checks defined on the asset."""
        data = self.query(
            """query($path: [String!]!) { assetNodes(assetKeys: [{path: $path}]) {
                 assetChecksOrError { ... on AssetChecks { checks { name } } } } }""",
            {"path": [asset]},
        )
        return [check["name"] for node in data["assetNodes"] for check in node["assetChecksOrError"]["checks"]]

    def check_executions(self, asset: str, check: str) -> list[dict[str, Any]]:
        """The check's executions, newest first: runId, status and the evaluation's success."""
        data = self.query(
            """query($path: [String!]!, $check: String!) {
                 assetCheckExecutions(assetKey: {path: $path}, checkName: $check, limit: 100) {
                   runId status evaluation { success } } }""",
            {"path": [asset], "check": check},
        )
        return data["assetCheckExecutions"]

    def launch_backfill(self, assets: list[str], first: str, last: str) -> str:
        """Launch a backfill of exactly these assets over partitions first..last (`launchPartitionBackfill`); its id.

        Per-asset ranges (`partitionsByAssets`), not `assetSelection` + `partitionNames`: with the latter Dagster
        also targets every downstream partition reachable through partition mappings: features of month M
        map to the model of M+1.
        """
        window = {"range": {"start": first, "end": last}}
        params = {"partitionsByAssets": [{"assetKey": {"path": [asset]}, "partitions": window} for asset in assets]}
        data = self.query(
            """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
                 __typename ... on LaunchBackfillSuccess { backfillId } ... on Error { message } } }""",
            {"params": params},
        )
        result = data["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise GraphQLError(f"backfill not launched: {result}")
        return result["backfillId"]

    def backfill_ids(self) -> list[str]:
        """Ids of every backfill, newest first."""
        data = self.query("{ partitionBackfillsOrError { ... on PartitionBackfills { results { id } } } }")
        return [backfill["id"] for backfill in data["partitionBackfillsOrError"]["results"]]

    def backfill_status(self, backfill_id: str) -> str:
        """The backfill's status (REQUESTED, COMPLETED_SUCCESS, COMPLETED_FAILED, ...)."""
        data = self.query(
            "query($id: String!) { partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill { status } } }",
            {"id": backfill_id},
        )
        return data["partitionBackfillOrError"]["status"]

    def loaded(self) -> bool:
        """True once the server answers and the project's code location has loaded."""
        try:
            data = self.query(
                """{ version workspaceOrError { ... on Workspace {
                     locationEntries { locationOrLoadError { __typename } } } } }"""
            )
        except OSError:
            return False
        entries = data["workspaceOrError"]["locationEntries"]
        locations = [entry["locationOrLoadError"]["__typename"] for entry in entries]
        return bool(data["version"]) and locations == ["RepositoryLocation"]


def log_tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log file, for failure messages."""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_process_group(process: subprocess.Popen, timeout: float = SHUTDOWN_SECONDS) -> None:
    """SIGTERM the process's group (webserver, daemon, code servers, runs); SIGKILL what is left after `timeout`."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if _group_alive(process.pid):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout)
            wait_until(lambda: not _group_alive(process.pid), timeout, f"process group {process.pid}", interval=0.2)
            return
        except (subprocess.TimeoutExpired, TimeoutError):
            continue


def spawn_interruptible(command: list[str], env: dict[str, str], output: IO[bytes]) -> subprocess.Popen:
    """Start `command` in its own process group, SIGINT at its default even when ours is ignored (`cmd &`).

    `dagster dev` maps SIGTERM to its SIGINT handler; an inherited "ignore SIGINT" would make it ignore SIGTERM too.
    A Python handler is not inherited across exec, so setting one around the fork gives the child the default.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def dagster_dev(
    home: Path,
    storage_root: Path | str,
    storage: dict[str, Any] | None = None,
    extra_env: dict[str, str] | None = None,
    deployment: Path | None = None,
) -> Iterator[DagsterDev]:
    """Run `dagster dev` on a fresh instance in `home` (SQLite, or `storage`): wait until it serves, always stop it.

    `deployment` names a folder of deploy/ to run as it is: its dagster.yaml and workspace.yaml."""
    if deployment:
        home.mkdir(parents=True, exist_ok=True)
        shutil.copy(deployment / "dagster.yaml", home / "dagster.yaml")
    else:
        write_instance(home, storage)
    workspace = deployment / "workspace.yaml" if deployment else ROOT / "workspace.yaml"
    server = DagsterDev(port=free_port(), home=home, storage_root=storage_root)
    env = {
        **os.environ,
        **(extra_env or {}),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        "DAGSTER_HOME": str(home),
        "CREDIT_ASSETS_STORAGE_ROOT": str(storage_root),
        # LightGBM's OpenMP threads spin while waiting; next to another busy process that slows training ~20x
        "OMP_WAIT_POLICY": "PASSIVE",
    }
    command = [str(VENV_BIN / "dagster"), "dev", "-h", HOST, "-p", str(server.port), "-w", str(workspace)]
    log = home / "dagster-dev.log"
    with open(log, "wb") as output:
        process = spawn_interruptible(command, env, output)
    try:
        wait_until(lambda: server.loaded() or process.poll() is not None, STARTUP_SECONDS, f"dagster dev, {server.url}")
        if process.poll() is not None:
            raise RuntimeError(f"dagster dev exited with {process.returncode}:\n{log_tail(log)}")
        yield server
    except Exception as error:
        error.add_note(f"dagster dev log ({log}):\n{log_tail(log)}")
        raise
    finally:
        stop_process_group(process)


def _as_user(user: str | None, command: list[str]) -> list[str]:
    return ["runuser", "-u", user, "--", *command] if user else command


def _run(command: list[str]) -> None:
    """Run a command; a failure carries its output."""
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {result.returncode}:\n{result.stdout}{result.stderr}")


def _postgres_bin(tool: str) -> str | None:
    """A PostgreSQL server tool from PATH, else from Debian's versioned folder (which is not on PATH)."""
    found = [shutil.which(tool), *sorted(map(str, Path("/usr/lib/postgresql").glob(f"*/bin/{tool}")), reverse=True)]
    return next((path for path in found if path), None)


@contextmanager
def postgres_server(host: str = HOST, clients: str | None = None) -> Iterator[dict[str, str]]:
    """A throwaway PostgreSQL on `host` (127.0.0.1), a free port and a temp folder, with an empty database for Dagster;
    `clients` (a subnet) may connect too, with the password.

    Yields the connection as the environment variables that deploy/postgres/dagster.yaml reads (DAGSTER_PG_*).
    """
    initdb = require_tool(_postgres_bin("initdb"), "PostgreSQL (initdb)", "postgresql")
    pg_ctl = str(Path(initdb).resolve().with_name("pg_ctl"))
    user = "postgres" if os.geteuid() == 0 else None  # initdb refuses root; Debian's package creates this user
    folder = Path(tempfile.mkdtemp(prefix="credit-assets-pg-"))
    data, password_file = folder / "data", folder / "password"
    password_file.write_text(secrets.token_urlsafe(16))
    initdb_args = ["-D", str(data), "-U", POSTGRES_USER, f"--pwfile={password_file}", "--auth=scram-sha-256"]
    if user:
        for path in (folder, password_file):
            os.chown(path, pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid)
    env = {
        "DAGSTER_PG_HOST": host,
        "DAGSTER_PG_PORT": str(free_port()),
        "DAGSTER_PG_DB": POSTGRES_DB,
        "DAGSTER_PG_USERNAME": POSTGRES_USER,
        "DAGSTER_PG_PASSWORD": password_file.read_text(),
    }
    server_options = f"-p {env['DAGSTER_PG_PORT']} -h {host} -k {folder}"
    try:
        _run(_as_user(user, [initdb, *initdb_args]))
        if clients:
            with open(data / "pg_hba.conf", "a") as rules:
                rules.write(f"host all all {clients} scram-sha-256\n")
        _run(_as_user(user, [pg_ctl, "-D", str(data), "-o", server_options, "-l", str(folder / "log"), "-w", "start"]))
        create_database(env)
        yield env
    finally:
        subprocess.run(_as_user(user, [pg_ctl, "-D", str(data), "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def create_database(env: dict[str, str]) -> None:
    """Create the database named in `env`, connecting as its user to the default `postgres` database."""
    connection = psycopg2.connect(
        host=env["DAGSTER_PG_HOST"],
        port=env["DAGSTER_PG_PORT"],
        user=env["DAGSTER_PG_USERNAME"],
        password=env["DAGSTER_PG_PASSWORD"],
        dbname="postgres",
    )
    connection.autocommit = True  # CREATE DATABASE cannot run inside a transaction
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{env["DAGSTER_PG_DB"]}"')
    finally:
        connection.close()
