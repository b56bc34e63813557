"""What change control (issue 27) costs: the month that keeps its champion, the month that develops candidates with
the search for a less discriminatory alternative (LDA), and the 24-month backfill, against the platform before
issue 27 (commit 5376b8a), measured side by side on the same machine.

    .venv/bin/python -m bench.model_risk                   # full scale: about 30 min on a quiet 2-core machine
    .venv/bin/python -m bench.model_risk --rows 6000 --months 4 --threads 1 --tune-trials 2 --repeat 1   # smoke

"before" runs the workers and the platform of a checkout of 5376b8a (`--before-checkout`, or exported from git
into the work dir), "after" those of this checkout; the harness itself always runs from this checkout. Every
measurement is a fresh process on a private clone of a prepared storage root (bench/benchmark.py's machinery):
1. before: the refit month (the month after a tuned month, `retune: never`, the `score_month` job) and the
   24-month backfill (`retune: never`);
2. after: (a) the kept month: the same month, its champion developed for the month before and in force, no
   trigger; (b) the development month: the same month with `review_every_months: 0` (develops, LDA search
   included); (c) the 24-month backfill with the default cadence (`review_every_months: 3`). The after half uses
   `approval: none` throughout so a new champion takes effect at once: no human wait is measured.
Writes docs/model_risk_benchmark.json and the section for docs/BENCHMARKS.md (docs/model_risk_benchmark.md), both
after every part; `--render FILE` prints the section of an earlier JSON.
"""

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/model_risk.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import data, report  # noqa: E402
from bench.benchmark import (  # noqa: E402
    MEASURED_MONTH_INDEX,
    TUNED_MONTH_INDEX,
    bench_backfill,
    clean_up,
    dagster_args,
    log,
    measured,
    model_config,
    prepare_scale,
)
from bench.measure import PROJECT_DIR, imported_from  # noqa: E402
from credit_assets.core.blobs import write_text  # noqa: E402
from credit_assets.core.modeling.settings import ModelSettings  # noqa: E402

BEFORE_COMMIT = "5376b8a"  # main before issue 27: every month develops (trains) its models
BEFORE, AFTER = "before", "after"
# The after half: approval "none" lets a developed candidate take effect at once (no person's wait is measured).
CADENCE = {"review_every_months": 3, "approval": "none"}  # the default cadence
DEVELOP_ALWAYS = {"review_every_months": 0, "approval": "none"}  # develops at every run, as before change control
# measurement -> (code, model settings on top of benchmark.model_config, what it is)
MONTHS = {
    "refit": (BEFORE, {}, "refit month: trains and refits its models, as every month did before issue 27"),
    "kept": (AFTER, CADENCE, "kept month: no trigger, the champion developed for the month before scores"),
    "development": (AFTER, DEVELOP_ALWAYS, "development month: candidates and the LDA search"),
}
BACKFILLS = {BEFORE: {}, AFTER: CADENCE}
LIMITS = {"kept_over_refit": 0.25, "backfill_after_over_before": 0.40, "development_over_refit": 3.0}
JSON_NAME, MARKDOWN_NAME = "model_risk_benchmark.json", "model_risk_benchmark.md"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="bench.model_risk", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=data.FULL_ROWS, help="total rows (default: the real 307,511)")
    parser.add_argument("--months", type=int, default=24, help="monthly files after the history in the backfill")
    parser.add_argument("--threads", type=int, default=2, help="LightGBM threads (ModelConfig default 2)")
    parser.add_argument(
        "--before-checkout",
        type=Path,
        help=f"a checkout of the code before issue 27 (default: {BEFORE_COMMIT} exported from git into the work dir)",
    )
    parser.add_argument("--before-commit", default=BEFORE_COMMIT, help="the commit to export without --before-checkout")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of each month measurement")
    parser.add_argument("--backfill-repeat", type=int, default=1, help="repetitions of each backfill")
    parser.add_argument("--skip-backfill", action="store_true")
    parser.add_argument("--tune-trials", type=int, default=20, help="Optuna trials of the tuned month")
    parser.add_argument("--seed", type=int, default=0, help="generator seed")
    parser.add_argument("--model-seed", type=int, default=42, help="LightGBM and Optuna seed")
    parser.add_argument("--work-dir", type=Path, help="data and run folders (default: a temporary folder, removed)")
    parser.add_argument("--keep", action="store_true", help="keep every run's storage root (needs disk)")
    parser.add_argument("--output-dir", type=Path, default=PROJECT_DIR / "docs", help=f"where {JSON_NAME} goes")
    parser.add_argument("--render", type=Path, metavar="JSON", help="print the markdown section of a results file")
    # what bench.benchmark's prepare_scale and bench_backfill read besides the options above
    parser.set_defaults(tune_repeat=1, backfill_retune="never")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.backfill_repeat < 1 or args.months < 1:
        parser.error("--repeat, --backfill-repeat and --months must be at least 1")
    return args


# --- the two checkouts ---------------------------------------------------------------------------------------


def _git(folder: Path, *command: str) -> str | None:
    found = subprocess.run(["git", "-C", str(folder), *command], capture_output=True, text=True)
    return found.stdout.strip() if found.returncode == 0 else None


def exported(commit: str, folder: Path) -> Path:
    """The tree of `commit` as files in `folder` (git archive: no worktree, the repository untouched), reused when
    the folder already holds it."""
    stamp = folder / ".exported-commit"
    full = _git(PROJECT_DIR, "rev-parse", "--verify", f"{commit}^{{commit}}")
    if full is None:
        raise SystemExit(f"commit {commit} is not in {PROJECT_DIR}'s repository: pass --before-checkout")
    if stamp.exists() and stamp.read_text() == full:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(PROJECT_DIR), "archive", full], capture_output=True, check=True).stdout
    with tempfile.TemporaryFile() as handle:
        handle.write(archive)
        handle.seek(0)
        with tarfile.open(fileobj=handle) as tar:
            tar.extractall(folder, filter="data")
    stamp.write_text(full)
    return folder


def describe(checkout: Path, exported_commit: str | None = None) -> dict[str, Any]:
    """Where a side's code is, which commit, whether it had local changes (None: not known, as for an exported
    tree), and where its workers import from; stops when they would import another checkout's code."""
    imports = imported_from(checkout)
    if not all(Path(path).resolve().is_relative_to(checkout.resolve()) for path in imports.values()):
        raise SystemExit(f"a worker for {checkout} would import {imports}: not that checkout's code")
    status = None if exported_commit else _git(checkout, "status", "--porcelain", "--untracked-files=no")
    return {
        "path": str(checkout),
        "commit": exported_commit or _git(checkout, "rev-parse", "HEAD"),
        "exported": exported_commit is not None,
        "local_changes": None if status is None else bool(status),
        "imports": imports,
        "workers_same_as_harness": (checkout / "bench" / "workers.py").read_bytes()
        == (PROJECT_DIR / "bench" / "workers.py").read_bytes(),
    }


def checkouts(args: argparse.Namespace, work: Path) -> tuple[dict[str, Path], dict[str, dict[str, Any]]]:
    """The before and after checkouts (the after one: this one), and what each is."""
    before = (
        args.before_checkout.resolve() if args.before_checkout else exported(args.before_commit, work / "before-code")
    )
    if not (before / "credit_assets").is_dir() or not (before / "bench" / "workers.py").is_file():
        raise SystemExit(f"{before} is not a credit-assets checkout with bench/workers.py")
    stamp = None if args.before_checkout else (before / ".exported-commit").read_text()
    code = {BEFORE: before, AFTER: PROJECT_DIR}
    return code, {BEFORE: describe(before, stamp), AFTER: describe(PROJECT_DIR)}


# --- the promotion log ---------------------------------------------------------------------------------------


def month_entries(root: Path) -> list[dict[str, Any]]:
    """The promotion log's month decisions (entries before change control have no kind: they are month decisions),
    oldest first; read as plain lines, so a log of either checkout reads the same."""
    path = root / "data" / "registry" / "promotions.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [entry for entry in map(json.loads, filter(None, lines)) if entry.get("kind", "month") == "month"]


def month_summary(entry: dict[str, Any] | None) -> dict[str, Any]:
    """Whether a month decision developed candidates, why, and which triggers fired; developed None when the entry
    predates change control (then every month trained its models)."""
    if entry is None:
        return {"decision": None, "developed": None}
    review = entry.get("review")
    return {
        "decision": entry.get("sequence"),
        "champion": entry.get("champion"),
        "developed": None if review is None else bool(review.get("developed")),
        "triggers": [trigger.get("kind") for trigger in (review or {}).get("triggers", [])],
        "why": (review or {}).get("why"),
        "proposed": entry.get("proposed"),
    }


def decision_of(root: Path, month: str) -> dict[str, Any]:
    """The newest decision for `month` in a storage root's promotion log."""
    found = [entry for entry in month_entries(root) if entry["month"] == month]
    return month_summary(found[-1] if found else None)


def developments(root: Path) -> dict[str, Any]:
    """The backfill's months as the promotion log tells them: which developed candidates, and on which triggers."""
    newest = {entry["month"]: entry for entry in month_entries(root)}
    months = {month: month_summary(entry) for month, entry in sorted(newest.items())}
    controlled = any(summary["developed"] is not None for summary in months.values())
    developed = [m for m, s in months.items() if s["developed"] or (not controlled and s["decision"] is not None)]
    return {
        "change_control": controlled,
        "months": months,
        "developed_months": developed,
        "developed": len(developed),
        "decided": len(months),
    }


# --- the measurements ----------------------------------------------------------------------------------------


def prepare(args: argparse.Namespace, work: Path, code: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """Per side: the history ingested and the month before the measured one tuned (after: developed, approval none,
    so its champion is in force), by that side's code; the landing files are generated once for both."""
    prepared = {}
    for side, checkout in code.items():
        log(f"{side}: preparing with the code of {checkout}")
        overrides = CADENCE if side == AFTER else None
        prepared[side] = prepare_scale(args, work / side, 1.0, checkout, overrides, data_dir=work / "data")
        prepared[side]["tuned_decision"] = decision_of(
            prepared[side]["ready"], prepared[side]["months"][TUNED_MONTH_INDEX]
        )
    return prepared


def config_of(args: argparse.Namespace, name: str) -> dict[str, Any]:
    """The model config of a month measurement."""
    return model_config(args, "never", MONTHS[name][1] or None)


def measure_months(
    args: argparse.Namespace, work: Path, code: dict[str, Path], prepared: dict[str, dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """The refit, kept and development month, `--repeat` times each (order rotated), each on a fresh clone of its
    side's prepared root; each with its promotion-log decision."""
    names = list(MONTHS)
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    logs = work / "logs" / "months"
    for rep in range(args.repeat):
        for name in names[rep % len(names) :] + names[: rep % len(names)]:
            side = MONTHS[name][0]
            month = prepared[side]["months"][MEASURED_MONTH_INDEX]
            root = data.clone(prepared[side]["ready"], work / "months" / f"{name}-{rep + 1}")
            worker_args = dagster_args(month, "score_month", config_of(args, name))
            result = measured("dagster", f"{name}-{rep + 1}", root, worker_args, logs, code[side]).as_dict()
            result["decision"] = decision_of(root, month)
            result["model_step_s"] = step_wall(result, "model")
            results[name].append(result)
            if not args.keep:
                shutil.rmtree(root, ignore_errors=True)
    return results


def measure_backfills(args: argparse.Namespace, work: Path, code: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """The backfill of each side (its history ingested by its own code), one side after the other; the promotion
    log of every run is read before its root goes."""
    kept = argparse.Namespace(**{**vars(args), "keep": True})  # the roots stay until their logs are read
    results = {}
    for side, overrides in BACKFILLS.items():
        log(f"{side}: {args.months}-month backfill with the code of {code[side]}")
        found = bench_backfill(kept, work / side, code[side], overrides or None, data_dir=work / "data")
        found["model_config"] = model_config(args, args.backfill_retune, overrides or None)
        for rep, run in enumerate(found["runs"], start=1):
            root = work / side / "backfill" / f"run-{rep}"
            run["developments"] = developments(root)
            if not args.keep:
                shutil.rmtree(root, ignore_errors=True)
        results[side] = found
    return results


def step_wall(run: dict[str, Any], step: str) -> float | None:
    return next((s["wall_s"] for s in run["report"].get("steps", []) if s["step"] == step), None)


# --- the figures ---------------------------------------------------------------------------------------------


def median_of(runs: list[dict[str, Any]], name: str) -> float | None:
    """Median of a measurement figure (wall_s, cpu_s, model_step_s) or a worker-report figure (work_s)."""
    return report.median([run.get(name, run["report"].get(name)) for run in runs])


def figures(results: dict[str, Any]) -> dict[str, Any]:
    """The ratios the targets judge, and what makes them valid."""
    months, backfills = results.get("months") or {}, results.get("backfill") or {}

    def over(name: str, base: str, figure: str) -> float | None:
        return report.ratio(median_of(months.get(name, []), figure), median_of(months.get(base, []), figure))

    after_runs, before_runs = backfills.get(AFTER, {}).get("runs", []), backfills.get(BEFORE, {}).get("runs", [])
    return {
        "kept_over_refit": over("kept", "refit", "wall_s"),
        "kept_over_refit_after_imports": over("kept", "refit", "work_s"),
        "development_over_refit": over("development", "refit", "wall_s"),
        "development_over_refit_model_step": over("development", "refit", "model_step_s"),
        "backfill_after_over_before": report.ratio(median_of(after_runs, "wall_s"), median_of(before_runs, "wall_s")),
        "kept_months_developed": [run["decision"]["developed"] for run in months.get("kept", [])],
        "development_months_developed": [run["decision"]["developed"] for run in months.get("development", [])],
        "backfill_developed": [run["developments"]["developed"] for run in after_runs],
    }


def every_run(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(where, run) of every measurement, setup included."""
    found = []
    for side, prepared in (results.get("setup") or {}).items():
        found += [(f"{side} history ingest", prepared["history_ingest"])]
        found += [(f"{side} tuned month", run) for run in prepared["tuning"]]
    for name, runs in (results.get("months") or {}).items():
        found += [(f"{MONTHS[name][0]} {name} month", run) for run in runs]
    for side, backfill in (results.get("backfill") or {}).items():
        found += [(f"{side} backfill history ingest", backfill["history_ingest"])]
        found += [(f"{side} backfill", run) for run in backfill["runs"]]
    return found


def all_ok(results: dict[str, Any]) -> bool:
    return all(run["ok"] for _, run in every_run(results))


def settings(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    """The run's options, as recorded in the report."""
    return {
        "command": " ".join([".venv/bin/python -m bench.model_risk", *argv]),
        "rows": args.rows,
        "months": args.months,
        "threads": args.threads,
        "repeat": args.repeat,
        "backfill_repeat": args.backfill_repeat,
        "skip_backfill": args.skip_backfill,
        "tune_trials": args.tune_trials,
        "seed": args.seed,
        "model_seed": args.model_seed,
        "before_commit_asked": args.before_commit if args.before_checkout is None else None,
        "model_configs": {name: config_of(args, name) for name in MONTHS},
        "tuned_month_configs": {
            BEFORE: model_config(args, "always" if args.tune_trials > 0 else "never"),
            AFTER: model_config(args, "always" if args.tune_trials > 0 else "never", CADENCE),
        },
        "backfill_configs": {side: model_config(args, "never", o or None) for side, o in BACKFILLS.items()},
        "after_model_defaults": dataclasses.asdict(ModelSettings()),
        "full_scale": args.rows == data.FULL_ROWS and args.months == 24 and not args.skip_backfill,
    }


def setup_record(prepared: dict[str, Any]) -> dict[str, Any]:
    return {
        "rows": prepared["rows"],
        "generated": prepared["generated"],
        "history_month": prepared["months"][0],
        "tuned_month": prepared["months"][TUNED_MONTH_INDEX],
        "measured_month": prepared["months"][MEASURED_MONTH_INDEX],
        "history_ingest": prepared["history_ingest"].as_dict(),
        "tuning": [m.as_dict() for m in prepared["tuning"]],
        "tuned_decision": prepared["tuned_decision"],
    }


def write(results: dict[str, Any], folder: Path) -> None:
    """The JSON and the markdown section, each written to a temp file and renamed into place."""
    results["figures"] = figures(results)
    results["written"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    write_text(folder / JSON_NAME, json.dumps(results, indent=1, default=str))
    write_text(folder / MARKDOWN_NAME, markdown(results))


def run(args: argparse.Namespace, argv: list[str], work: Path) -> dict[str, Any]:
    """Every measurement; the report is rewritten after each part, so an interrupted run still leaves figures."""
    results: dict[str, Any] = {"settings": settings(args, argv), "machine": report.machine()}
    results["settings"]["started"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    code, results["checkouts"] = checkouts(args, work)
    for side, found in results["checkouts"].items():
        log(f"{side}: {found['path']} at {found['commit']}, credit_assets from {found['imports']['credit_assets']}")
    prepared = prepare(args, work, code)
    results["setup"] = {side: setup_record(p) for side, p in prepared.items()}
    write(results, args.output_dir)
    results["months"] = measure_months(args, work, code, prepared)
    write(results, args.output_dir)
    if not args.skip_backfill:
        results["backfill"] = measure_backfills(args, work, code)
    results["machine"]["load_average_end"] = os.getloadavg()
    results["settings"]["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    write(results, args.output_dir)
    return results


# --- the markdown section --------------------------------------------------------------------------------------


def _ratio_text(value: float | None, numerator: float | None, denominator: float | None) -> str:
    if value is None:
        return "not measured"
    return f"{value:.2f} ({report._seconds(numerator)} / {report._seconds(denominator)})"


def decision_problem(runs: list[dict[str, Any]], developed: bool) -> str | None:
    """Why a month's figures do not measure what they claim (None: they do): it failed, its code has no change
    control, or it developed when it should have kept the champion, or the other way round."""
    decisions = [run.get("decision") or {} for run in runs]
    if not runs or not all(run["ok"] for run in runs) or any(d.get("decision") is None for d in decisions):
        return "a run failed or logged no decision"
    if any(d["developed"] is None for d in decisions):
        return "no change control in the after code (the month's decision has no review)"
    if any(d["developed"] is not developed for d in decisions):
        return "the month " + ("kept its champion" if developed else "developed candidates") + " (see its decision)"
    return None


def targets(results: dict[str, Any]) -> list[list[str]]:
    """target, measured, limit, verdict: the issue's three targets and two figures beside them."""
    found, months = results["figures"], results.get("months") or {}
    backfills = results.get("backfill") or {}
    refit, kept, development = (months.get(name, []) for name in MONTHS)

    def judged(value: float | None, limit: float, problem: str | None) -> str:
        if value is None:
            return "not measured"
        return f"invalid: {problem}" if problem else report.verdict(value, limit)

    after_b, before_b = (backfills.get(side, {}).get("runs", []) for side in (AFTER, BEFORE))
    change_control = all(run["developments"]["change_control"] for run in after_b)
    return [
        [
            "month without a trigger (champion kept; monitoring and reports included): whole `score_month` job, "
            "process launch to exit, over the refit month before issue 27",
            _ratio_text(found["kept_over_refit"], median_of(kept, "wall_s"), median_of(refit, "wall_s")),
            f"<= {LIMITS['kept_over_refit']:.2f}",
            judged(
                found["kept_over_refit"],
                LIMITS["kept_over_refit"],
                decision_problem(kept, developed=False),
            ),
        ],
        [
            "(beside it) the same after imports (interpreter start and imports left out)",
            _ratio_text(found["kept_over_refit_after_imports"], median_of(kept, "work_s"), median_of(refit, "work_s")),
            "–",
            "–",
        ],
        [
            f"{results['settings']['months']}-month backfill with the default cadence (review every 3 months, "
            "approval `none`) over today's backfill (5376b8a), side by side",
            _ratio_text(
                found["backfill_after_over_before"], median_of(after_b, "wall_s"), median_of(before_b, "wall_s")
            ),
            f"<= {LIMITS['backfill_after_over_before']:.2f}",
            judged(
                found["backfill_after_over_before"],
                LIMITS["backfill_after_over_before"],
                None if change_control else "no change control in the after code (no month decision has a review)",
            ),
        ],
        [
            "candidate development with the LDA search: whole `score_month` job over the refit month",
            _ratio_text(found["development_over_refit"], median_of(development, "wall_s"), median_of(refit, "wall_s")),
            f"<= {LIMITS['development_over_refit']:.0f}",
            judged(
                found["development_over_refit"],
                LIMITS["development_over_refit"],
                decision_problem(development, developed=True),
            ),
        ],
        [
            "(beside it) the model step alone, development over refit",
            _ratio_text(
                found["development_over_refit_model_step"],
                median_of(development, "model_step_s"),
                median_of(refit, "model_step_s"),
            ),
            "–",
            "–",
        ],
    ]


def _decision_text(decision: dict[str, Any] | None) -> str:
    if not decision or decision.get("decision") is None:
        return "no decision logged"
    if decision["developed"] is None:
        return "trained (no change control)"
    if not decision["developed"]:
        return "kept"
    return f"developed ({', '.join(decision['triggers']) or 'no trigger named'})"


def _measurement_row(label: str, side: str, runs: list[dict[str, Any]]) -> list[str]:
    decisions = sorted({_decision_text(run.get("decision")) for run in runs if "decision" in run})
    return [
        label,
        side,
        report.fmt(report.field(runs, "wall_s")),
        report.fmt(report.field(runs, "work_s")),
        report.fmt(report.spread([run.get("model_step_s") for run in runs])),
        report.fmt(report.field(runs, "cpu_s")),
        report.fmt(report.field(runs, "peak_rss_mib"), "MiB", 0),
        "; ".join(decisions) or "–",
        "yes" if runs and all(run["ok"] for run in runs) else "**no**",
    ]


def measurements_section(results: dict[str, Any]) -> list[str]:
    months, backfills = results.get("months") or {}, results.get("backfill") or {}
    rows = [_measurement_row(MONTHS[name][2], MONTHS[name][0], runs) for name, runs in months.items()]
    for side, backfill in backfills.items():
        for run in backfill["runs"]:
            run.setdefault("model_step_s", None)
        developed = [run["developments"] for run in backfill["runs"]]
        text = ", ".join(f"{d['developed']} of {d['decided']} months developed" for d in developed)
        rows.append(
            [
                f"{backfill['months']}-month backfill, one `score_month` run per month",
                side,
                report.fmt(report.field(backfill["runs"], "wall_s")),
                "–",
                "–",
                report.fmt(report.field(backfill["runs"], "cpu_s")),
                report.fmt(report.field(backfill["runs"], "peak_rss_mib"), "MiB", 0),
                text if side == AFTER else "every month trains",
                "yes" if all(run["ok"] for run in backfill["runs"]) else "**no**",
            ]
        )
    for side, prepared in (results.get("setup") or {}).items():
        rows.append(_measurement_row("setup: history ingest", side, [prepared["history_ingest"]]))
        tuned = _measurement_row(f"setup: tuned month {prepared['tuned_month']} (core path)", side, prepared["tuning"])
        tuned[7] = _decision_text(prepared.get("tuned_decision"))
        rows.append(tuned)
    header = ["measurement", "code", "end to end", "after imports", "model step", "CPU", "peak RSS", "decision", "ok"]
    return [
        "### Measurements",
        "",
        "Each a fresh process on a private clone of its side's prepared storage root and Dagster instance; *end to "
        "end*: launch to exit of the process; *after imports*: without the interpreter start and imports; CPU (user "
        "+ sys) and peak RSS include child processes. Figures are median (min–max) over the repetitions. *Decision*: "
        "the month's entry in the promotion log.",
        "",
        *report._table(header, rows),
    ]


def backfill_section(results: dict[str, Any]) -> list[str]:
    backfills = results.get("backfill") or {}
    if not backfills:
        return []
    per_month: dict[str, dict[str, str]] = {}
    for side, backfill in backfills.items():
        run = backfill["runs"][0]
        for month in run["report"].get("months", []):
            model = next((s["wall_s"] for s in month.get("steps", []) if s["step"] == "model"), None)
            row = per_month.setdefault(month["month"], {})
            row[f"{side} run"] = report._seconds(month.get("wall_s"))
            row[f"{side} model"] = report._seconds(model)
        for month, decision in run["developments"]["months"].items():
            per_month.setdefault(month, {})[f"{side} decision"] = _decision_text(decision)
    after = backfills.get(AFTER, {}).get("runs", [{}])[0].get("developments", {})
    developed = ", ".join(
        f"{month} ({', '.join(after['months'][month]['triggers']) or 'no trigger named'})"
        for month in after.get("developed_months", [])
    )
    summary = (
        f"{after.get('developed', 0)} of {after.get('decided', 0)} months developed candidates: {developed or 'none'}"
    )
    if not after.get("change_control", True):
        summary = "no change control in the after code: every month trained"
    columns = [f"{side} {what}" for side in backfills for what in ("run", "model")] + [f"{AFTER} decision"]
    rows = [[month, *(row.get(c, "–") for c in columns)] for month, row in sorted(per_month.items())]
    header = ["month", *(c.replace(" run", ": launch to finished").replace(" model", ": model step") for c in columns)]
    return [
        "### Backfill month by month (first repetition)",
        "",
        f"After: {summary}.",
        "",
        *report._table(header, rows),
    ]


def how_section(results: dict[str, Any]) -> list[str]:
    s, found = results["settings"], results.get("checkouts") or {}
    setup = results.get("setup") or {}
    normal = next(iter(setup.values()), None)
    backfill = next(iter((results.get("backfill") or {}).values()), None)

    def side(name: str) -> str:
        c = found.get(name)
        if not c:
            return "–"
        dirty = " with local changes" if c.get("local_changes") else ""
        return (
            f"`{c['path']}` at `{c['commit']}`{dirty}, `credit_assets` imported from `{c['imports']['credit_assets']}`"
        )

    lines = [
        "### How it was run",
        "",
        f"- Command: `{s['command']}` (started {s.get('started', '?')}, finished {s.get('finished', 'not yet')}).",
        f"- Before (issue 27 not yet in): {side(BEFORE)}. After: {side(AFTER)}. The harness ran from the after "
        "checkout; each side's workers (`bench/workers.py`, "
        + (
            "the same file in both checkouts"
            if found.get(BEFORE, {}).get("workers_same_as_harness")
            else "**different files**: only their common command line and report are used"
        )
        + ") and platform ran from their own checkout with the same interpreter and libraries.",
    ]
    if normal:
        g = normal["generated"]
        lines.append(
            f"- Month measurements: {normal['rows']:,} rows (history {g['history_rows']:,} + {g['months']} x "
            f"{g['rows_per_month']:,}); history {normal['history_month']} ingested, {normal['tuned_month']} tuned "
            f"({s['tune_trials']} Optuna trials; after: developed, approval "
            f"`none`, so its champion is in force), {normal['measured_month']} measured with `retune: never`. "
            f"{s['repeat']} repetition(s), order rotated."
        )
    if backfill:
        lines.append(
            f"- Backfill: {backfill['rows']:,} rows = history {backfill['history_rows']:,} + {backfill['months']} x "
            f"{backfill['rows_per_month']:,}, every month its own `score_month` run in a fresh process, in order "
            f"(`bench.benchmark`'s backfill worker), `retune: never`; {s['backfill_repeat']} repetition(s) per side, "
            "before then after."
        )
    lines += [
        f"- Model configs: {'; '.join(f'{n}: `{json.dumps(c)}`' for n, c in s['model_configs'].items())}; backfill "
        f"after: `{json.dumps(s['backfill_configs'][AFTER])}`. LightGBM threads {s['threads']}, model seed "
        f"{s['model_seed']}, generator seed {s['seed']}; the gate's limits are opened (it still runs).",
        "- The after half runs with `approval: none`: a developed candidate takes effect at once, so no person's wait "
        "for a `model_risk` approval is measured (with the default `model_risk` approval the cadence counts from "
        "the approved champion's development month).",
        f"- LDA search as configured by default: {s['after_model_defaults'].get('lda_proxies')} proxies dropped one "
        f"by one, AUC tolerance {s['after_model_defaults'].get('lda_auc_tolerance')}, profit tolerance "
        f"{s['after_model_defaults'].get('lda_profit_tolerance')}.",
        "",
    ]
    return lines


def markdown(results: dict[str, Any]) -> str:
    """The section to paste into docs/BENCHMARKS.md."""
    results.setdefault("figures", figures(results))
    warning = []
    if not results["settings"]["full_scale"]:
        s = results["settings"]
        warning = [
            f"**Not a full-scale run** ({s['rows']:,} rows, {s['months']}-month backfill"
            f"{', skipped' if s['skip_backfill'] else ''}): these verdicts do not answer the issue's targets.",
            "",
        ]
    machine = report.machine_section(results)
    machine[0] = "### Machine"
    return "\n".join(
        [
            "## Model risk: what change control costs (issue 27)",
            "",
            f"Generated by `bench/model_risk.py`; raw measurements: `docs/{JSON_NAME}`. Measured, never asserted "
            "in tests.",
            "",
            *warning,
            *report._table(["target", "measured", "limit", "verdict"], targets(results)),
            *how_section(results),
            *machine,
            *measurements_section(results),
            *backfill_section(results),
        ]
    )


def console_summary(results: dict[str, Any]) -> str:
    lines = ["", "Targets:"] + [
        f"  {verdict:>14}  {measured}  {limit}  {target}" for target, measured, limit, verdict in targets(results)
    ]
    lines.append("all measurements ok" if all_ok(results) else "SOME MEASUREMENTS FAILED: see the logs")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the measurements (or render an earlier JSON), write the report, print the targets; 1 when one failed."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.render:
        print(markdown(json.loads(args.render.read_text())))
        return 0
    temporary = args.work_dir is None
    work = Path(tempfile.mkdtemp(prefix="credit-assets-model-risk-")) if temporary else args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    log(f"work dir {work}; logs in {work / 'logs'}")
    results: dict[str, Any] | None = None
    ok = False
    try:
        results = run(args, argv, work)
        ok = all_ok(results)
    finally:
        if temporary and not args.keep:
            clean_up(work, keep_logs=not ok)
    print(console_summary(results))
    log(f"wrote {args.output_dir / JSON_NAME} and {args.output_dir / MARKDOWN_NAME}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
