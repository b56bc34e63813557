"""The decision service under load (issue 28): latency and throughput of single applications from 32 concurrent
clients, a batch of 1,000 in one request, and a promotion during a load run, against `credit-assets serve` on
127.0.0.1 with its decisions committed to a SQLite log on disk.

    .venv/bin/python -m bench.decision_api                 # about 10 min on a quiet 2-core machine
    .venv/bin/python -m bench.decision_api --seconds 5 --history-rows 6000 --trials 1   # smoke

The load generator is a bounded asyncio client speaking HTTP/1.1 over keep-alive connections (no HTTP library in
the loop, so the client takes as little of the two cores as it can): each of `--clients` connections sends one
application, waits for its answer and sends the next (closed loop); the paced runs send at a fixed total rate
instead (open loop: latency at a given load, not at saturation). Every answer's `Server-Timing` header gives the
service's own time from arrival to answer; the client's round trip is reported beside it.
Writes docs/decision_api_benchmark.json and docs/decision_api_benchmark.md (linked from BENCHMARKS.md).
"""

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import report  # noqa: E402
from bench.measure import PROJECT_DIR  # noqa: E402

DOCS = PROJECT_DIR / "docs"
TARGETS = {"p50_ms": 10.0, "p99_ms": 50.0, "throughput_per_s": 300.0, "batch_1000_s": 1.0, "switch_s": 5.0}
FIRST_ID = 900_000_000  # applications the bench sends get fresh IDs: each is decided once


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each load run")
    parser.add_argument("--rates", type=float, nargs="*", default=[150.0, 300.0], help="paced runs, decisions/s")
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2], help="service processes to compare")
    parser.add_argument("--history-rows", type=int, default=60_000)
    parser.add_argument("--month-rows", type=int, default=10_000)
    parser.add_argument("--trials", type=int, default=5, help="Optuna trials of the champion's development")
    parser.add_argument("--work", type=Path, default=None, help="work folder on disk (default: a temp folder)")
    return parser.parse_args(argv)


# --- the world: a storage root with a champion and a month of applications ---------------------------------


def prepare(args: argparse.Namespace, work: Path) -> tuple[Path, list[bytes], list[dict[str, Any]]]:
    """Generate data, develop a champion and a challenger for the month (approval none), return the root and the
    month's records; the records are sent as JSON with fresh IDs."""
    import dagster as dg

    from credit_assets.core.contract import schema
    from credit_assets.core.contract.landing import read_landing_csv
    from credit_assets.core.months import landing_file_name
    from credit_assets.definitions import defs
    from credit_assets.defs.decision_log import DecisionLogResource
    from credit_assets.defs.storage import StorageResource
    from credit_assets.synthetic.generate import GeneratorConfig, generate_landing_files

    config = GeneratorConfig(seed=28, history_rows=args.history_rows, months=1, rows_per_month=args.month_rows)
    root = work / "data"
    generate_landing_files(config, root / "landing", work / "generator_truth")
    history, month = config.month_keys
    storage = StorageResource(root=str(root))
    model = {"optuna_trials": args.trials, "review_every_months": 0, "approval": "none", "lda_proxies": 1}
    with dg.instance_for_test() as instance:
        for key, selection in (
            (history, ["raw_applications", "validated_applications", "features"]),
            (month, ["raw_applications", "validated_applications", "features", "model"]),
        ):
            result = dg.materialize(
                list({id(a): a for a in defs.assets}.values()),
                selection=selection,
                partition_key=key,
                resources={"storage": storage, "decision_log": DecisionLogResource(storage_root=str(root))},
                instance=instance,
                raise_on_error=False,
                run_config={"ops": {"model": {"config": model}}} if "model" in selection else {},
            )
            if not result.success:
                raise RuntimeError(f"preparing {key} failed")
    raw = read_landing_csv(root / "landing" / landing_file_name(month)).drop(columns=schema.TARGET_COLUMN)
    records = json.loads(raw.to_json(orient="records"))
    return root, [json.dumps(r).encode() for r in records], records


# --- the load generator ---------------------------------------------------------------------------------------


@dataclass
class Sample:
    sent: float
    client_ms: float
    server_ms: float
    status: int
    version: str


@dataclass
class Load:
    """The records to send, numbered afresh."""

    records: list[dict[str, Any]]
    next_id: int = FIRST_ID
    samples: list[Sample] = field(default_factory=list)

    def body(self) -> bytes:
        record = self.records[self.next_id % len(self.records)]
        self.next_id += 1
        return json.dumps({**record, "SK_ID_CURR": self.next_id}).encode()


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, token: str, path: str, body: bytes
) -> tuple[int, dict[str, str], bytes]:
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    return status, headers, await reader.readexactly(int(headers.get("content-length", 0)))


async def _client(port: int, token: str, load: Load, until: float, interval: float | None, offset: float) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    due = time.perf_counter() + offset
    try:
        while time.perf_counter() < until:
            if interval is not None:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                due += interval
            started = time.perf_counter()
            status, headers, _ = await _request(reader, writer, f"127.0.0.1:{port}", token, "/v1/decision", load.body())
            took = (time.perf_counter() - started) * 1000
            server = float(headers.get("server-timing", "app;dur=nan").split("dur=")[1])
            load.samples.append(Sample(started, took, server, status, headers.get("x-model-version", "")))
    finally:
        writer.close()


def run_load(port: int, token: str, load: Load, clients: int, seconds: float, rate: float | None) -> list[Sample]:
    """`clients` connections for `seconds`: closed loop, or paced to `rate` decisions a second in all."""
    load.samples = []
    interval = clients / rate if rate else None

    async def main() -> None:
        until = time.perf_counter() + seconds
        offsets = [(interval or 0) * i / clients for i in range(clients)]
        await asyncio.gather(*(_client(port, token, load, until, interval, o) for o in offsets))

    asyncio.run(main())
    return load.samples


def summary(samples: list[Sample], seconds: float) -> dict[str, Any]:
    ok = [s for s in samples if s.status == 200]

    def pct(values: list[float], q: float) -> float:
        return round(statistics.quantiles(values, n=1000)[int(q * 10) - 1], 2) if len(values) > 1 else float("nan")

    server, client = [s.server_ms for s in ok], [s.client_ms for s in ok]
    return {
        "requests": len(samples),
        "failed": len(samples) - len(ok),
        "throughput_per_s": round(len(ok) / seconds, 1),
        **{f"server_p{q}_ms": pct(server, q) for q in (50, 95, 99)},
        **{f"client_p{q}_ms": pct(client, q) for q in (50, 95, 99)},
    }


# --- the service ----------------------------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_service(root: Path, work: Path, workers: int, port: int) -> tuple[subprocess.Popen, str]:
    from credit_assets.core.databases import DECISION_DB_ENV
    from credit_assets.core.decisions.log import DecisionLog
    from credit_assets.core.decisions.tokens import Scope, TokenStore

    database = work / f"decision_log_{workers}w.sqlite"
    for path in work.glob(f"{database.name}*"):
        path.unlink()
    url = f"sqlite:///{database}"
    env = {**os.environ, DECISION_DB_ENV: url, "CREDIT_ASSETS_SECRETS_DIR": str(work / "secrets")}
    token = TokenStore(DecisionLog(url)).create("bench", Scope.DECIDE)[1]
    command = [
        sys.executable,
        "-m",
        "credit_assets.cli",
        "serve",
        "--root",
        str(root),
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--rate",
        "100000",
        "--poll-seconds",
        "1",
    ]
    process = subprocess.Popen(
        command,
        env=env,
        stdout=open(work / f"serve_{workers}w.log", "wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return process, token
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the service did not come up: {(work / f'serve_{workers}w.log').read_text()[-2000:]}")


def stop_service(process: subprocess.Popen) -> None:
    import signal

    os.killpg(process.pid, signal.SIGTERM)
    process.wait(30)


def batch_seconds(port: int, token: str, load: Load, repeat: int = 5) -> list[float]:
    """Seconds for one request of 1,000 applications, each time new ones."""
    import httpx

    timings = []
    with httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as c:
        for _ in range(repeat):
            body = {"applications": [json.loads(load.body()) for _ in range(1_000)]}
            started = time.perf_counter()
            response = c.post("/v1/decisions", json=body)
            timings.append(round(time.perf_counter() - started, 3))
            assert response.status_code == 200, response.text[:500]
    return timings


def promotion_during_load(root: Path, port: int, token: str, load: Load, clients: int, seconds: float) -> dict:
    """Approve a challenger halfway through a closed-loop run: failures, versions seen, time to the switch."""
    import threading

    from credit_assets.core.modeling.change_control import AWAITING, MODEL_RISK_ROLE
    from credit_assets.core.modeling.registry import ModelRegistry
    from credit_assets.core.store import ArtifactStore

    registry = ModelRegistry(ArtifactStore.at(root).blobs)
    entry = registry.promotions()[-1]
    old = entry["champion"]
    new = next(c["version"] for c in entry["candidates"] if c["version"] != old)
    proposal = {k: v for k, v in entry.items() if k not in ("sequence", "sha256", "previous_sha256")}
    registry.append(
        {**proposal, "month": "2099-01", "proposed": new, "approval": {"status": AWAITING}, "requested_by": ["bench"]}
    )
    approved: dict[str, float] = {}

    def approve() -> None:
        time.sleep(seconds / 2)
        registry.decide(new, "approve", "validator", MODEL_RISK_ROLE, "promotion during the load benchmark")
        approved["at"] = time.perf_counter()

    thread = threading.Thread(target=approve)
    thread.start()
    samples = run_load(port, token, load, clients, seconds, None)
    thread.join()
    after = [s for s in samples if s.sent >= approved["at"]]
    first_new = min((s.sent + s.client_ms / 1000 for s in samples if s.version == new), default=None)
    stale_after = [s for s in after if s.version == old and s.sent - approved["at"] > 5]
    return {
        "requests": len(samples),
        "failed": sum(s.status != 200 for s in samples),
        "versions": sorted({s.version for s in samples}),
        "switch_s": round(first_new - approved["at"], 2) if first_new else None,
        "old_version_answers_5s_after": len(stale_after),
        "from": old,
        "to": new,
    }


# --- the report -----------------------------------------------------------------------------------------------


def verdict(value: float | None, limit: float, above: bool = False) -> str:
    if value is None or value != value:
        return "n/a"
    return "PASS" if (value >= limit if above else value <= limit) else "FAIL"


def markdown(results: dict[str, Any]) -> str:
    machine = results["machine"]
    lines = [
        "# Decision service benchmark",
        "",
        "Generated by `bench/decision_api.py` (issue 28); raw figures in `decision_api_benchmark.json`. The service is",
        "`credit-assets serve` on 127.0.0.1 with its decision log in SQLite on disk (WAL, a full sync at every",
        "commit: every decision is durable before it is answered); the client is a bounded asyncio HTTP/1.1 client",
        "on the same machine, so client and service share its cores. `server` is the service's `Server-Timing`",
        "(arrival to answer, queueing for the micro-batch included); `client` the round trip.",
        "",
        f"Machine: {machine['cpu']}, {machine['usable_cpus']} usable cores, {machine['memory_gib']} GiB; speed probe "
        f"{machine['speed_probe_seconds']} s (10 M Python additions); champion {results['champion']} "
        f"({results['settings']['history_rows']:,} training rows); {results['settings']['clients']} clients, "
        f"{results['settings']['seconds']:.0f} s a run.",
        "",
        "| run | workers | requests | failed | decisions/s | server p50 / p95 / p99 ms | client p50 / p95 / p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in results["runs"]:
        lines.append(
            f"| {run['name']} | {run['workers']} | {run['requests']:,} | {run['failed']} | {run['throughput_per_s']} | "
            f"{run['server_p50_ms']} / {run['server_p95_ms']} / {run['server_p99_ms']} | "
            f"{run['client_p50_ms']} / {run['client_p95_ms']} / {run['client_p99_ms']} |"
        )
    promotion = results["promotion"]
    lines += [
        "",
        f"Batch of 1,000 applications in one request: {', '.join(f'{s:.2f}' for s in results['batch_1000_s'])} s.",
        "",
        f"Promotion during a closed-loop run ({promotion['requests']:,} requests): {promotion['failed']} failed; "
        f"versions answered {', '.join(promotion['versions'])}; the new champion answered "
        f"{promotion['switch_s']} s after the approval was committed; answers by the old one more than 5 s after: "
        f"{promotion['old_version_answers_5s_after']}.",
        "",
        "## Against the issue's targets",
        "",
        "| target | limit | measured | verdict |",
        "|---|---|---|---|",
    ]
    for name, limit, value, above in results["targets"]:
        lines.append(f"| {name} | {limit} | {value} | {verdict(value, limit, above)} |")
    return "\n".join(lines) + "\n"


def targets(results: dict[str, Any]) -> list[tuple[str, float, float | None, bool]]:
    paced = [r for r in results["runs"] if r["name"] == "paced 300/s"]
    best = min(paced, key=lambda r: r["server_p50_ms"]) if paced else None
    closed = max((r for r in results["runs"] if r["name"] == "closed loop"), key=lambda r: r["throughput_per_s"])
    return [
        (
            "server p50 at 300 decisions/s (best worker count), ms",
            TARGETS["p50_ms"],
            best and best["server_p50_ms"],
            False,
        ),
        (
            "server p99 at 300 decisions/s (best worker count), ms",
            TARGETS["p99_ms"],
            best and best["server_p99_ms"],
            False,
        ),
        (
            "decisions/s, 32 clients closed loop (best worker count)",
            TARGETS["throughput_per_s"],
            closed["throughput_per_s"],
            True,
        ),
        (
            "batch of 1,000 in one request (median), s",
            TARGETS["batch_1000_s"],
            statistics.median(results["batch_1000_s"]),
            False,
        ),
        ("promotion during load: failed requests", 0, results["promotion"]["failed"], False),
        ("promotion during load: switch visible, s", TARGETS["switch_s"], results["promotion"]["switch_s"], False),
    ]


def write(results: dict[str, Any]) -> None:
    from credit_assets.core.blobs import write_text

    write_text(DOCS / "decision_api_benchmark.json", json.dumps(results, indent=2) + "\n")
    write_text(DOCS / "decision_api_benchmark.md", markdown(results))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="decision-api-bench-", dir=PROJECT_DIR / ".."))
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DAGSTER_HOME", str(work / "dagster_home"))
    Path(os.environ["DAGSTER_HOME"]).mkdir(exist_ok=True)
    log("preparing data and a champion")
    root, _, records = prepare(args, work)
    load = Load(records)
    results: dict[str, Any] = {"settings": vars(args) | {"work": str(work)}, "runs": []}
    for workers in args.workers:
        port = free_port()
        process, token = start_service(root, work, workers, port)
        try:
            run_load(port, token, load, args.clients, 3, None)  # warm up: imports, caches, the first batches
            for name, rate in [("closed loop", None), *((f"paced {r:.0f}/s", r) for r in args.rates)]:
                log(f"{workers} worker(s): {name}")
                samples = run_load(port, token, load, args.clients, args.seconds, rate)
                results["runs"].append({"name": name, "workers": workers, **summary(samples, args.seconds)})
            if workers == args.workers[0]:
                results["batch_1000_s"] = batch_seconds(port, token, load)
        finally:
            stop_service(process)
    port = free_port()
    process, token = start_service(root, work, args.workers[0], port)
    try:
        log("promotion during a load run")
        results["promotion"] = promotion_during_load(root, port, token, load, args.clients, args.seconds)
    finally:
        stop_service(process)
    results["champion"] = results["promotion"]["from"]
    results["machine"] = report.machine()
    results["targets"] = targets(results)
    write(results)
    print(markdown(results))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
