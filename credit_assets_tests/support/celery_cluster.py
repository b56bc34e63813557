"""The distributed profile for tests: a throwaway Redis, Celery workers on test hosts, months run as jobs.

`python -m credit_assets_tests.support.celery_cluster [--default-model] MODULE MONTH...` runs each month's job
(ingest_month for the history, score_month otherwise) from code location MODULE with `dg.execute_job`, one run per
month in month order like a backfill, on the instance in $DAGSTER_HOME with the storage root in
$CREDIT_ASSETS_STORAGE_ROOT, the model step with FAST_MODEL unless --default-model. It prints one JSON line per run and
exits 1 at the first failed run.
"""

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from credit_assets.keys import PARTITION_TAG
from credit_assets_tests.support.e2e import (
    HOST,
    ROOT,
    VENV_BIN,
    free_port,
    log_tail,
    require_tool,
    spawn_interruptible,
    stop_process_group,
    wait_until,
)
from credit_assets_tests.support.hosts import Host

CELERY_DEPLOY = ROOT / "deploy" / "celery"
WORKER_APP = "credit_assets.celery_worker"  # the workers' Celery app, as docs/DEPLOYMENT.md starts it
STARTUP_SECONDS = 120
DEFAULT_MODEL_FLAG = "--default-model"  # the model step's own defaults, as a sensor's run has them (else FAST_MODEL)
RUN_SECONDS = 15 * 60  # generous bound for a few small months on a loaded 2-core machine


def _redis_answers(host: str, port: int, password: str) -> bool:
    """True once a Redis server on the port accepts the password and answers PING."""
    try:
        with socket.create_connection((host, port), timeout=1) as sock, sock.makefile("rb") as replies:
            sock.sendall(f"AUTH {password}\r\nPING\r\n".encode())
            return replies.readline().startswith(b"+OK") and replies.readline().startswith(b"+PONG")
    except OSError:
        return False


def broker_password(url: str) -> str:
    """The password in a broker URL (redis://:PASSWORD@host:port/db)."""
    return urlsplit(url).password or ""


@contextmanager
def redis_server(host: str = HOST) -> Iterator[str]:
    """A throwaway redis-server on `host` (127.0.0.1) with a random password, a free port and its own temp folder, never
    saving; yields its URL (password included, as a deployment's CREDIT_ASSETS_CELERY_BROKER holds it)."""
    server = require_tool(shutil.which("redis-server"), "Redis (redis-server)", "redis-server")
    folder = Path(tempfile.mkdtemp(prefix="credit-assets-redis-"))
    port, log, password = free_port(), folder / "redis.log", secrets.token_hex(16)
    (folder / "redis.conf").write_text(f"requirepass {password}\n")  # not on the command line, which ps shows
    command = [
        server,
        str(folder / "redis.conf"),
        "--bind",
        host,
        "--port",
        str(port),
        "--dir",
        str(folder),
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--logfile",
        str(log),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(
            lambda: _redis_answers(host, port, password) or process.poll() is not None,
            STARTUP_SECONDS,
            "redis-server",
            0.2,
        )
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}:\n{log_tail(log)}")
        yield f"redis://:{password}@{host}:{port}/0"
    finally:
        stop_process_group(process)
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class Worker:
    """A running Celery worker (its own process group) and its Celery node name."""

    node: str
    process: subprocess.Popen
    log: Path

    def pids(self) -> set[int]:
        """Every live process of the worker's process group: Celery's main process and its pool."""
        found = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.process.pid:  # fields after the command: state, ppid, pgrp, ...
                found.add(int(stat.parent.name))
        return found


def _nodes_answering(broker: str) -> set[str]:
    """Node names of the Celery workers that answer a ping through the broker."""
    from celery import Celery  # imported late: the module's CLI use below needs no Celery

    app = Celery("dagster", broker=broker, backend=broker)
    try:
        return {node for reply in app.control.ping(timeout=1.0) for node in reply}
    finally:
        app.close()


@contextmanager
def celery_workers(hosts: list[Host], hidden: list[Path], env: dict[str, str], folder: Path) -> Iterator[list[Worker]]:
    """Start one Celery worker (one pool process) on each host, as in docs/DEPLOYMENT.md; always stop them.

    Each worker runs in its host's network namespace with `hidden` folders replaced by empty ones, so it reaches
    the services over the bridge and sees no file of the test's other processes. Yields once every worker answers
    a ping through the broker in `env` (CREDIT_ASSETS_CELERY_BROKER); its log is `folder`/worker-NAME.log.
    """
    env = {**env, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    with ExitStack() as stack:
        workers = []
        for host in hosts:
            command = [str(VENV_BIN / "celery"), "-A", WORKER_APP, "worker", "-n", f"{host.name}@%h", "--concurrency=1"]
            log = folder / f"worker-{host.name}.log"
            with open(log, "wb") as output:
                process = spawn_interruptible(host.command(hidden, command), env, output)
            stack.callback(stop_process_group, process)
            workers.append(Worker(node=f"{host.name}@{host.name}", process=process, log=log))
        try:
            expected = {worker.node for worker in workers}
            wait_until(
                lambda: (
                    expected <= _nodes_answering(env["CREDIT_ASSETS_CELERY_BROKER"])
                    or any(worker.process.poll() is not None for worker in workers)
                ),
                STARTUP_SECONDS,
                f"Celery workers {sorted(expected)}",
            )
            exited = [worker for worker in workers if worker.process.poll() is not None]
            if exited:
                raise RuntimeError(f"Celery worker {exited[0].node} exited:\n{log_tail(exited[0].log)}")
            yield workers
        except Exception as error:
            for worker in workers:
                error.add_note(f"Celery worker {worker.node} log ({worker.log}):\n{log_tail(worker.log)}")
            raise


@contextmanager
def months_running(
    module: str, months: list[str], env: dict[str, str], log: Path, fast_model: bool = True
) -> Iterator[Callable[[], list[dict]]]:
    """Start the months' jobs from code location `module` in a fresh process (this module's CLI), stopped on exit.

    `env` names the instance (DAGSTER_HOME and, for PostgreSQL, DAGSTER_PG_*), the storage root and the broker;
    `fast_model` False runs the model step with its own defaults. Yields a function that waits for the process and
    returns its runs (month, job, run_id, success).
    """
    env = {**os.environ, **env, "OMP_WAIT_POLICY": "PASSIVE"}
    flags = [] if fast_model else [DEFAULT_MODEL_FLAG]
    command = [sys.executable, "-m", "credit_assets_tests.support.celery_cluster", *flags, module, *months]
    with open(log, "wb") as errors:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=errors, start_new_session=True
        )

    def runs() -> list[dict]:
        try:
            output, _ = process.communicate(timeout=RUN_SECONDS)
        except subprocess.TimeoutExpired as error:
            raise RuntimeError(f"runs of {module} still going after {RUN_SECONDS} s:\n{log_tail(log)}") from error
        found = [json.loads(line) for line in output.decode().splitlines() if line.startswith("{")]
        if process.returncode != 0 or len(found) != len(months):
            raise RuntimeError(f"runs of {module} failed ({process.returncode}): {found}\n{log_tail(log)}")
        return found

    try:
        yield runs
    finally:
        stop_process_group(process)
        if process.stdout:
            process.stdout.close()


def _main(module: str, months: list[str], fast_model: bool) -> int:
    import dagster as dg
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    from credit_assets.defs.jobs import job_for_month, score_month
    from credit_assets_tests.support.materialise import FAST_MODEL

    repository = ReconstructableRepository.for_module(module, "defs", working_directory=str(ROOT))
    with dg.DagsterInstance.get() as instance:
        for month in months:
            job = job_for_month(month)
            fast = fast_model and job == score_month.name
            run_config = {"ops": {"model": {"config": FAST_MODEL}}} if fast else {}
            result = dg.execute_job(
                repository.get_reconstructable_job(job),
                instance,
                run_config=run_config,
                tags={PARTITION_TAG: month},
            )
            run = {"month": month, "job": job, "run_id": result.run_id, "success": result.success}
            print(json.dumps(run), flush=True)
            if not result.success:
                return 1
    return 0


if __name__ == "__main__":
    arguments = [argument for argument in sys.argv[1:] if argument != DEFAULT_MODEL_FLAG]
    sys.exit(_main(arguments[0], arguments[1:], fast_model=DEFAULT_MODEL_FLAG not in sys.argv))
