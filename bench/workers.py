"""The processes the benchmark measures: `python -m bench.workers {plain,dagster,backfill} --report FILE ...`.

Each worker writes a JSON report (success, timestamps relative to its launch, per-stage or per-step times).
Heavy imports happen inside the workers on purpose: importing is part of what a month costs.
"""

import argparse
import gc
import hashlib
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

LAUNCH = float(os.environ.get("BENCH_LAUNCH_TIME", time.time()))
STEP_EVENTS = ("STEP_WORKER_STARTING", "STEP_START", "STEP_SUCCESS", "STEP_FAILURE")


def since_launch(moment: float | None = None) -> float:
    """Seconds from the parent's launch of this process to `moment` (default: now)."""
    return (time.time() if moment is None else moment) - LAUNCH


def store() -> Any:
    """The storage the run writes to (imported here: the script times its own imports)."""
    from credit_assets.core.store import ArtifactStore

    return ArtifactStore.at(os.environ["CREDIT_ASSETS_STORAGE_ROOT"])


def forecast_file(month: str) -> dict[str, Any]:
    """Location and SHA-256 of the month's forecast export (None when it was not written)."""
    from credit_assets.core.store import FORECASTS_EXPORT, MissingArtifact

    try:
        digest = hashlib.sha256(store().read_export(FORECASTS_EXPORT, month)).hexdigest()
    except MissingArtifact:
        digest = None
    return {"forecast_file": store().export_location(FORECASTS_EXPORT, month), "forecast_sha256": digest}


def model_card(month: str) -> dict[str, Any]:
    """What the month's stored model card says about tuning, early stopping and validation AUC."""
    from credit_assets.core.modeling.registry import ModelRegistry

    found = ModelRegistry(store().blobs).champion(month)
    if found is None:
        return {}
    card = found.card
    return {
        "model": {
            "tuned_this_month": card.params_provenance.get("tuned_this_month", False),
            "params_source": card.params_provenance.get("source"),
            "trials": card.params_provenance.get("trials"),
            "pruned_trials": card.params_provenance.get("pruned_trials"),
            "best_search_auc": card.params_provenance.get("best_validation_auc"),
            "best_iteration": card.best_iteration,
            "train_rows": card.window.train_rows,
            "validation_auc": card.validation_metrics["roc_auc"],
            "version": card.version,
        }
    }


def plain_worker(args: argparse.Namespace) -> dict[str, Any]:
    """The month's core path as a plain script."""
    from bench import plain

    gc.freeze()  # as the platform's code location does after its imports (no measurable effect on this script)
    imported = since_launch()
    stages: plain.Stages = []
    plain.run_month(store(), args.month, json.loads(args.model_config), stages)
    done = since_launch()
    return {
        "success": True,
        "imports_s": imported,
        "done_s": done,
        "time_to_forecast_s": done,
        "work_s": done - imported,
        "stages": stages,
        **forecast_file(args.month),
        **model_card(args.month),
    }


def step_timings(instance: Any, run_id: str) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Per step: worker start (multiprocess), start, end and status from the event log; run start and end."""
    steps: dict[str, dict[str, Any]] = {}
    run: dict[str, float] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None:
            continue
        kind = event.event_type.name
        if kind in ("RUN_START", "RUN_SUCCESS", "RUN_FAILURE"):
            run[kind] = since_launch(entry.timestamp)
        if event.step_key and kind in STEP_EVENTS:
            steps.setdefault(event.step_key, {"step": event.step_key})[kind] = since_launch(entry.timestamp)
    rows = []
    for step in sorted(steps.values(), key=lambda s: s.get("STEP_START", s.get("STEP_WORKER_STARTING", 0.0))):
        end = step.get("STEP_SUCCESS", step.get("STEP_FAILURE"))
        start = step.get("STEP_START")
        rows.append(
            {
                "step": step["step"],
                "start_s": start,
                "end_s": end,
                "wall_s": None if start is None or end is None else end - start,
                "worker_start_s": step.get("STEP_WORKER_STARTING"),
                "ok": "STEP_SUCCESS" in step,
            }
        )
    return rows, run


def run_config(job: str, model_config: dict[str, Any]) -> dict[str, Any]:
    """The model's config for jobs that hold the model, plus the executor choice of the core jobs."""
    from bench import jobs

    config: dict[str, Any] = {} if job == "ingest_month" else {"ops": {"model": {"config": model_config}}}
    if job == "core-multiprocess":
        config.update(jobs.executor_config(multiprocess=True))
    return config


def execute(
    job: str, month: str, model_config: dict[str, Any], instance: Any, marks: dict[str, float]
) -> tuple[bool, str]:
    """Run one month through the named job on `instance`; returns success and run id; `marks` gets job_ready_s."""
    import dagster as dg

    from bench import jobs
    from credit_assets.defs.jobs import job_for_month
    from credit_assets.keys import PARTITION_TAG

    name = job_for_month(month) if job == "auto" else job
    config = run_config(name, model_config)
    if name == "core-multiprocess":
        job_def = dg.reconstructable(jobs.core_month_job)
        marks["job_ready_s"] = since_launch()
        result = dg.execute_job(job_def, instance, run_config=config, tags={PARTITION_TAG: month})
        return result.success, result.run_id
    definition = jobs.core_month_job() if name == "core-inprocess" else jobs.platform_job(name)
    marks["job_ready_s"] = since_launch()
    result = definition.execute_in_process(
        partition_key=month, instance=instance, run_config=config, raise_on_error=False
    )
    return result.success, result.run_id


def dagster_worker(args: argparse.Namespace) -> dict[str, Any]:
    """One month through a Dagster job, on the instance in DAGSTER_HOME."""
    import dagster as dg

    import bench.jobs  # noqa: F401  (loads the platform's definitions: part of the cost)

    marks = {"imports_s": since_launch()}
    with dg.DagsterInstance.get() as instance:
        marks["instance_ready_s"] = since_launch()
        success, run_id = execute(args.job, args.month, json.loads(args.model_config), instance, marks)
        marks["done_s"] = since_launch()
        steps, run = step_timings(instance, run_id)
    forecast_end = next((s["end_s"] for s in steps if s["step"] == "forecasts"), None)
    return {
        "success": success,
        "run_id": run_id,
        "job": args.job,
        **marks,
        "work_s": marks["done_s"] - marks["imports_s"],
        "run": run,
        "steps": steps,
        "time_to_forecast_s": forecast_end,
        **forecast_file(args.month),
        **model_card(args.month),
    }


def backfill_worker(args: argparse.Namespace) -> dict[str, Any]:
    """Every month in order, one run per month in a fresh process each (as Dagster's run launcher does).

    The next month starts once the previous month's run has reported (its run is finished), not once its
    process has exited: Dagster's run queue frees a run's slot on its finished status, and a process's own
    teardown (about 1.5 s of interpreter finalisation with these libraries) overlaps the next launch."""
    folder = Path(args.report).with_suffix("")
    folder.mkdir(parents=True, exist_ok=True)
    months, processes = [], []
    for month in args.months.split(","):
        report = folder / f"{month}.json"
        report.unlink(missing_ok=True)  # an earlier backfill's report would let the next month start at once
        start = time.perf_counter()
        processes.append(launch_month(args, month, report, folder / f"{month}.log"))
        while not report.exists() and processes[-1].poll() is None:
            time.sleep(0.05)
        result = json.loads(report.read_text()) if report.exists() else {"success": False}
        months.append({"month": month, "wall_s": time.perf_counter() - start, **result})
    for entry, process in zip(months, processes, strict=True):
        entry["returncode"] = process.wait()
    return {"success": all(m["success"] and m["returncode"] == 0 for m in months), "months": months}


def launch_month(args: argparse.Namespace, month: str, report: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start the month's `score_month` run in a fresh process that writes `report` when its run is finished."""
    command = [sys.executable, "-m", "bench.workers", "dagster", "--report", str(report), "--month", month]
    command += ["--job", "auto", "--model-config", args.model_config]
    env = {**os.environ, "BENCH_LAUNCH_TIME": repr(time.time())}
    with open(log, "wb") as output:
        return subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)


WORKERS = {"plain": plain_worker, "dagster": dagster_worker, "backfill": backfill_worker}


def main() -> int:
    """Run the worker named on the command line and write its report, also when it fails."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=sorted(WORKERS))
    parser.add_argument("--report", required=True)
    parser.add_argument("--month", default="")
    parser.add_argument("--months", default="", help="comma-separated months (backfill)")
    parser.add_argument(
        "--job", default="auto", help="core-inprocess, core-multiprocess, score_month, ingest_month, auto"
    )
    parser.add_argument("--model-config", default="{}")
    args = parser.parse_args()
    try:
        report = WORKERS[args.kind](args)
    except Exception:  # noqa: BLE001  (the benchmark reports a failed measurement instead of stopping)
        report = {"success": False, "error": traceback.format_exc()}
        print(report["error"], file=sys.stderr)
    report["reported_s"] = since_launch()
    from credit_assets.core.blobs import write_text

    # whole or absent: the backfill starts the next month when the report appears
    write_text(Path(args.report), json.dumps(report, indent=1, default=str))
    return 0 if report.get("success") else 1


if __name__ == "__main__":
    sys.exit(main())
