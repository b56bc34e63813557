"""Benchmark of credit-assets at full scale (issue #7): plain script vs Dagster in-process vs multiprocess, backfill.

    .venv/bin/python -m bench.benchmark     # the full run: 307,511 rows (long: see docs/BENCHMARKS.md)
    .venv/bin/python -m bench.benchmark --rows 4000 --scale 0.5,1 --repeat 1 --tune-trials 2 --months 2 --threads 1

Every measurement runs in a fresh process on a private copy of a prepared storage root and Dagster home, so
imports count, caches do not carry over, and CPU (user + sys) and peak memory include child processes.
Writes docs/BENCHMARKS.md and docs/benchmarks.json (atomically).
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/benchmark.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import data, report  # noqa: E402
from bench.measure import PROJECT_DIR, Measurement, run_worker  # noqa: E402
from credit_assets.core.months import FIRST_MONTH, month_sequence  # noqa: E402

VARIANTS = ("plain", "core-inprocess", "core-multiprocess", "score_month")
TUNED_MONTH_INDEX, MEASURED_MONTH_INDEX = 1, 2  # the first month after the history is tuned, the second measured


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="bench.benchmark", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows", type=int, default=data.FULL_ROWS, help="total rows at scale 1 (default: the real file's 307,511)"
    )
    parser.add_argument("--scale", default="0.25,0.5,1", help="comma-separated fractions of --rows (linearity)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of every normal-month measurement")
    parser.add_argument("--months", type=int, default=24, help="monthly files after the history in the backfill data")
    parser.add_argument("--skip-backfill", action="store_true")
    parser.add_argument("--backfill-repeat", type=int, help="repetitions of the backfill (default: --repeat)")
    parser.add_argument(
        "--backfill-retune",
        choices=["auto", "never"],
        default="auto",
        help="model retune policy in the backfill (auto = the platform default: tunes when due)",
    )
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help=f"normal-month variants, of {', '.join(VARIANTS)}"
    )
    parser.add_argument(
        "--tune-trials", type=int, default=20, help="Optuna trials of a tuning month (ModelConfig default 20)"
    )
    parser.add_argument("--tune-repeat", type=int, default=1, help="repetitions of the tuning-month measurement")
    parser.add_argument("--threads", type=int, default=2, help="LightGBM threads (ModelConfig default 2)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed")
    parser.add_argument("--model-seed", type=int, default=42, help="LightGBM and Optuna seed")
    parser.add_argument(
        "--work-dir", type=Path, help="data and run folders (default: a temporary folder, removed after)"
    )
    parser.add_argument("--keep", action="store_true", help="keep every run's storage root (needs disk)")
    parser.add_argument(
        "--output-dir", type=Path, default=PROJECT_DIR / "docs", help="where BENCHMARKS.md and benchmarks.json go"
    )
    args = parser.parse_args(argv)
    args.scales = sorted({float(f) for f in args.scale.split(",")})
    args.variant_list = [v for v in args.variants.split(",") if v]
    unknown = set(args.variant_list) - set(VARIANTS)
    if unknown or args.repeat < 1 or not all(0 < f <= 1 for f in args.scales):
        parser.error(f"bad --variants {sorted(unknown)} / --repeat / --scale")
    args.backfill_repeat = args.backfill_repeat or args.repeat
    return args


def model_config(args: argparse.Namespace, retune: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """ModelConfig for every run: explicit seed and threads; the gate's limits opened (it still runs) so a noisy
    small-scale month cannot stop the benchmark; `overrides` on top."""
    return {
        "retune": retune,
        "optuna_trials": args.tune_trials,
        "num_threads": args.threads,
        "seed": args.model_seed,
        "auc_floor": 0.0,
        "max_auc_drop": 1.0,
        # the benchmark times the work, not a person's approval: each champion takes effect, logged as unapproved
        "approval": "none",
        **(overrides or {}),
    }


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def measured(
    kind: str, label: str, root: Path, args: list[str], logs: Path, checkout: Path = PROJECT_DIR
) -> Measurement:
    """One worker measurement (the workers and the platform of `checkout`), logged to the console."""
    logs.mkdir(parents=True, exist_ok=True)
    result = run_worker(kind, label, root, args, logs / f"{label}.log", checkout)
    status = "ok" if result.ok else f"FAILED (see {logs / label}.log)"
    log(
        f"{logs.name}/{label}: {result.wall_s:.1f} s wall, {result.cpu_s:.1f} s CPU, "
        f"{result.peak_rss_mib:.0f} MiB peak: {status}"
    )
    return result


def dagster_args(month: str, job: str, config: dict[str, Any]) -> list[str]:
    return ["--month", month, "--job", job, "--model-config", json.dumps(config)]


def variant_args(variant: str, month: str, config: dict[str, Any]) -> tuple[str, list[str]]:
    """Worker kind and arguments of a normal-month variant."""
    if variant == "plain":
        return "plain", ["--month", month, "--model-config", json.dumps(config)]
    return "dagster", dagster_args(month, variant, config)


def prepare_scale(
    args: argparse.Namespace,
    work: Path,
    fraction: float,
    checkout: Path = PROJECT_DIR,
    overrides: dict[str, Any] | None = None,
    data_dir: Path | None = None,
) -> dict[str, Any]:
    """Data of one scale (generated under `data_dir`, default work/data), its history ingested (measured as setup)
    and the first month scored with tuning, by the code of `checkout` with the model's `overrides`."""
    rows = round(args.rows * fraction)
    config = data.split(rows, data.ARTICLE_MONTHS, args.seed)
    months = config.month_keys
    log(
        f"scale {fraction:g}: {rows:,} rows = history {config.history_rows:,} "
        f"+ {config.months} x {config.rows_per_month:,}"
    )
    generated = data.generate(config, (data_dir or work / "data") / f"normal-{rows}")
    base, logs = work / f"scale-{fraction:g}", work / "logs" / f"scale-{fraction:g}"
    ingested = data.new_root(Path(generated["folder"]) / "landing", base / "ingested")
    history = measured("dagster", "history-ingest", ingested, dagster_args(months[0], "auto", {}), logs, checkout)
    tuning, ready = [], base / "ready"
    retune = "always" if args.tune_trials > 0 else "never"
    for rep in range(args.tune_repeat):
        root = data.clone(ingested, ready if rep == 0 else base / f"tune-{rep}")
        tuning.append(
            measured(
                "dagster",
                f"tuning-month-{rep + 1}",
                root,
                dagster_args(months[TUNED_MONTH_INDEX], "core-inprocess", model_config(args, retune, overrides)),
                logs,
                checkout,
            )
        )
        if rep and not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return {
        "fraction": fraction,
        "rows": rows,
        "months": months,
        "generated": generated,
        "history_ingest": history,
        "tuning": tuning,
        "ready": ready,
        "logs": logs,
    }


def normal_month(args: argparse.Namespace, prepared: dict[str, Any]) -> dict[str, list[Measurement]]:
    """Every variant of the measured month, `--repeat` times, each on a fresh copy; order rotates per repetition."""
    month = prepared["months"][MEASURED_MONTH_INDEX]
    config = model_config(args, "never")  # reuse the tuned month's best parameters: the same for every variant
    results: dict[str, list[Measurement]] = {v: [] for v in args.variant_list}
    for rep in range(args.repeat if args.variant_list else 0):
        order = args.variant_list[rep % len(args.variant_list) :] + args.variant_list[: rep % len(args.variant_list)]
        for variant in order:
            root = data.clone(prepared["ready"], prepared["ready"].parent / f"run-{variant}-{rep + 1}")
            kind, worker_args = variant_args(variant, month, config)
            results[variant].append(measured(kind, f"{variant}-{rep + 1}", root, worker_args, prepared["logs"]))
            if not args.keep:
                shutil.rmtree(root, ignore_errors=True)
    return results


def bench_scale(args: argparse.Namespace, work: Path, fraction: float) -> dict[str, Any]:
    """Setup, tuning figure and the normal-month variants at one scale."""
    prepared = prepare_scale(args, work, fraction)
    variants = normal_month(args, prepared)
    return {
        "fraction": fraction,
        "rows": prepared["rows"],
        "generated": prepared["generated"],
        "tuned_month": prepared["months"][TUNED_MONTH_INDEX],
        "measured_month": prepared["months"][MEASURED_MONTH_INDEX],
        "history_ingest": prepared["history_ingest"].as_dict(),
        "tuning": [m.as_dict() for m in prepared["tuning"]],
        "variants": {name: [m.as_dict() for m in runs] for name, runs in variants.items()},
    }


def bench_backfill(
    args: argparse.Namespace,
    work: Path,
    checkout: Path = PROJECT_DIR,
    overrides: dict[str, Any] | None = None,
    data_dir: Path | None = None,
) -> dict[str, Any]:
    """History + `--months` months of the same total rows: the history ingested (setup), then every month in order,
    by the code of `checkout` with the model's `overrides` (data generated under `data_dir`, default work/data)."""
    config = data.split(args.rows, args.months, args.seed)
    log(f"backfill: {args.rows:,} rows = history {config.history_rows:,} + {config.months} x {config.rows_per_month:,}")
    generated = data.generate(config, (data_dir or work / "data") / f"backfill-{args.rows}-{args.months}")
    base, logs = work / "backfill", work / "logs" / "backfill"
    ingested = data.new_root(Path(generated["folder"]) / "landing", base / "ingested")
    months = config.month_keys
    history = measured("dagster", "history-ingest", ingested, dagster_args(months[0], "auto", {}), logs, checkout)
    runs = []
    for rep in range(args.backfill_repeat):
        root = data.clone(ingested, base / f"run-{rep + 1}")
        worker_args = [
            "--months",
            ",".join(months[1:]),
            "--model-config",
            json.dumps(model_config(args, args.backfill_retune, overrides)),
        ]
        runs.append(measured("backfill", f"backfill-{rep + 1}", root, worker_args, logs, checkout))
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return {
        "rows": args.rows,
        "months": args.months,
        "rows_per_month": config.rows_per_month,
        "history_rows": config.history_rows,
        "retune": args.backfill_retune,
        "generated": generated,
        "history_ingest": history.as_dict(),
        "runs": [m.as_dict() for m in runs],
    }


def settings(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    """The run's options, as recorded in the report."""
    return {
        "command": " ".join([".venv/bin/python -m bench.benchmark", *argv]),
        "rows": args.rows,
        "scales": args.scales,
        "repeat": args.repeat,
        "months": args.months,
        "skip_backfill": args.skip_backfill,
        "backfill_repeat": args.backfill_repeat,
        "backfill_retune": args.backfill_retune,
        "variants": args.variant_list,
        "tune_trials": args.tune_trials,
        "tune_repeat": args.tune_repeat,
        "threads": args.threads,
        "seed": args.seed,
        "model_seed": args.model_seed,
        "first_month": FIRST_MONTH,
        "model_config": model_config(args, "never"),
        "full_scale": args.rows == data.FULL_ROWS and max(args.scales) == 1.0,
    }


def run(args: argparse.Namespace, argv: list[str], work: Path) -> dict[str, Any]:
    """Every measurement; the report is rewritten after each part, so an interrupted run still leaves figures."""
    results: dict[str, Any] = {
        "settings": settings(args, argv),
        "machine": report.machine(),
        "scales": [],
        "backfill": None,
    }
    results["settings"]["started"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    for fraction in args.scales:
        results["scales"].append(bench_scale(args, work, fraction))
        report.write(results, args.output_dir)
    if not args.skip_backfill:
        results["backfill"] = bench_backfill(args, work)
    results["machine"]["load_average_end"] = os.getloadavg()
    results["settings"]["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    report.write(results, args.output_dir)
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, write the report, print the ratios; exit 1 when a measurement failed."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    temporary = args.work_dir is None
    work = Path(tempfile.mkdtemp(prefix="credit-assets-bench-")) if temporary else args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    log(
        f"work dir {work}; month {month_sequence(FIRST_MONTH, 3)[MEASURED_MONTH_INDEX]} measured, "
        f"logs in {work / 'logs'}"
    )
    results: dict[str, Any] | None = None
    try:
        results = run(args, argv, work)
    finally:
        ok = results is not None and report.all_ok(results)
        if temporary and not args.keep:
            clean_up(work, keep_logs=not ok)
    if results is not None:
        print(report.console_summary(results))
    return 0 if ok else 1


def clean_up(work: Path, keep_logs: bool) -> None:
    """Remove the temporary work folder; when something failed, keep its logs and say where."""
    for entry in work.iterdir():
        if not (keep_logs and entry.name == "logs"):
            shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink()
    if keep_logs:
        log(f"logs kept in {work / 'logs'}")
    else:
        work.rmdir()


if __name__ == "__main__":
    sys.exit(main())
