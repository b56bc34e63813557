"""The benchmark report: machine description, statistics, docs/BENCHMARKS.md and docs/benchmarks.json."""

import json
import math
import os
import platform
import statistics
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from credit_assets.core.blobs import write_text

LIBRARIES = (
    "dagster",
    "great_expectations",
    "lightgbm",
    "optuna",
    "pandas",
    "numpy",
    "pyarrow",
    "scikit-learn",
    "scipy",
    "fairlearn",
    "optbinning",
    "matplotlib",
    "pillow",
)
LABELS = {
    "plain": "(a) plain script, no Dagster",
    "core-inprocess": "(b) Dagster, in-process executor",
    "core-multiprocess": "(c) Dagster, multiprocess executor",
    "score_month": "(b+) `score_month` job (whole month incl. monitoring), in-process",
}
LIMITS = {
    "month_s": 40.0,
    "monitoring_s": 5.0,
    "gx_s": 1.0,
    "tuning_s": 180.0,
    "ratio": 1.10,
    "backfill_s": 600.0,
    "memory_mib": 2048.0,
    "slope": 1.10,
}
# The month's steps that are not on the path from landing file to forecast file, checks included: monitoring and
# the reports the governance and decision issues added.
MONITORING_ASSETS = (
    "data_profile",
    "drift",
    "fairness",
    "forecast_performance",
    "decision_economics",
    "model_comparison",
    "model_documentation",
    "adverse_action_notices",
)
Run = dict[str, Any]


# --- machine ----------------------------------------------------------------------------------------------


def _proc_field(path: str, key: str) -> str:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return "?"
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith(key)), "?")


def _os_name() -> str:
    try:
        pairs = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line)
        pretty = pairs.get("PRETTY_NAME", "").strip('"')
    except OSError:
        pretty = ""
    return f"{pretty} ({platform.platform()})" if pretty else platform.platform()


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def speed_probe(repeat: int = 3) -> float:
    """Seconds for 10 million pure-Python additions on one core, best of `repeat`: the same host type can run
    at different speeds on different days, and this tells two benchmark runs' machines apart."""
    timings = []
    for _ in range(repeat):
        started, total = time.perf_counter(), 0
        for number in range(10_000_000):
            total += number
        timings.append(time.perf_counter() - started)
    return round(min(timings), 3)


def machine() -> dict[str, Any]:
    """CPU, cores, memory, OS, Python, library versions, a single-core speed probe and the load average now."""
    memory_kib = _proc_field("/proc/meminfo", "MemTotal").split()[0]
    return {
        "cpu": _proc_field("/proc/cpuinfo", "model name"),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "memory_gib": round(int(memory_kib) / 2**20, 1) if memory_kib.isdigit() else None,
        "os": _os_name(),
        "python": sys.version.split()[0],
        "libraries": {name: _version(name) for name in LIBRARIES},
        "load_average_start": os.getloadavg(),
        "speed_probe_seconds": speed_probe(),
        "hostname": platform.node(),
    }


# --- statistics ---------------------------------------------------------------------------------------------


def spread(values: list[float | None]) -> dict[str, float] | None:
    """Median, min and max of the known values (None when there are none)."""
    known = [v for v in values if v is not None]
    if not known:
        return None
    return {"median": statistics.median(known), "min": min(known), "max": max(known), "n": len(known)}


def median(values: list[float | None]) -> float | None:
    found = spread(values)
    return None if found is None else found["median"]


def fmt(stats: dict[str, float] | None, unit: str = "s", digits: int = 1) -> str:
    """'12.3 s (11.9–12.8)', or the single value when there is one run."""
    if stats is None:
        return "–"
    text = f"{stats['median']:,.{digits}f} {unit}".rstrip()
    if stats["n"] > 1:
        text += f" ({stats['min']:,.{digits}f}–{stats['max']:,.{digits}f})"
    return text


def field(runs: list[Run], name: str) -> dict[str, float] | None:
    """Spread of a top-level figure (wall_s, cpu_s, peak_rss_mib) or a report figure (time_to_forecast_s ...)."""
    return spread([r.get(name, r["report"].get(name)) for r in runs])


def step_walls(runs: list[Run], key: str = "wall_s") -> dict[str, dict[str, float] | None]:
    """Per Dagster step: spread of a step figure over the runs, in first-seen order."""
    names: dict[str, list[float | None]] = {}
    for run in runs:
        for step in run["report"].get("steps", []):
            names.setdefault(step["step"], []).append(step.get(key))
    return {name: spread(values) for name, values in names.items()}


def worker_start_delays(runs: list[Run]) -> dict[str, dict[str, float] | None]:
    """Per step of a multiprocess run: seconds from 'worker starting' to 'step start' (process spawn + imports)."""
    names: dict[str, list[float | None]] = {}
    for run in runs:
        for step in run["report"].get("steps", []):
            if step.get("worker_start_s") is not None and step.get("start_s") is not None:
                names.setdefault(step["step"], []).append(step["start_s"] - step["worker_start_s"])
    return {name: spread(values) for name, values in names.items()}


def stage_table(runs: list[Run]) -> dict[str, tuple[dict | None, dict | None]]:
    """Per plain-script stage: spread of wall and CPU seconds."""
    walls: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}
    for run in runs:
        for stage in run["report"].get("stages", []):
            walls.setdefault(stage["stage"], []).append(stage["wall_s"])
            cpus.setdefault(stage["stage"], []).append(stage["cpu_s"])
    return {name: (spread(walls[name]), spread(cpus[name])) for name in walls}


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    return None if numerator is None or not denominator else numerator / denominator


def slope(points: list[tuple[float, float | None]]) -> float | None:
    """Log-log slope between the smallest and the largest scale (1.0 = linear)."""
    known = [(rows, t) for rows, t in points if t]
    if len(known) < 2 or known[0][0] == known[-1][0]:
        return None
    (r0, t0), (r1, t1) = known[0], known[-1]
    return math.log(t1 / t0) / math.log(r1 / r0)


# --- the figures the targets need ---------------------------------------------------------------------------


def largest(results: dict[str, Any]) -> dict[str, Any] | None:
    return results["scales"][-1] if results["scales"] else None


def variant_runs(scale: dict[str, Any], name: str) -> list[Run]:
    return scale["variants"].get(name, [])


def every_run(results: dict[str, Any]) -> list[tuple[str, Run]]:
    """(where, run) for every measurement of the run, setup included."""
    found = []
    for scale in results["scales"]:
        where = f"scale {scale['fraction']:g}"
        found.append((f"{where} history ingest", scale["history_ingest"]))
        found += [(f"{where} tuning month", run) for run in scale["tuning"]]
        found += [(f"{where} {name}", run) for name, runs in scale["variants"].items() for run in runs]
    if results.get("backfill"):
        found.append(("backfill history ingest", results["backfill"]["history_ingest"]))
        found += [("backfill", run) for run in results["backfill"]["runs"]]
    return found


def all_ok(results: dict[str, Any]) -> bool:
    return all(run["ok"] for _, run in every_run(results))


def verdict(value: float | None, limit: float) -> str:
    if value is None:
        return "not measured"
    return "**pass**" if value <= limit else "**FAIL**"


def ratios(scale: dict[str, Any], figure: str) -> dict[str, float | None]:
    """Median of each Dagster variant over the plain script's median, for one figure."""
    plain = median([r["report"].get(figure) for r in variant_runs(scale, "plain")])
    return {
        name: ratio(median([r["report"].get(figure) for r in variant_runs(scale, name)]), plain)
        for name in scale["variants"]
        if name != "plain"
    }


def linearity(results: dict[str, Any], name: str, figure: str = "work_s") -> list[tuple[float, float | None]]:
    """(rows, median figure) of a variant at every scale."""
    return [(s["rows"], median([r["report"].get(figure) for r in variant_runs(s, name)])) for s in results["scales"]]


def targets(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(target, measured, limit, verdict) rows of the issue's targets, from the largest scale."""
    scale = largest(results)
    rows: list[tuple[str, str, str, str]] = []
    if scale is None:
        return rows
    month_variant = "score_month" if "score_month" in scale["variants"] else "core-inprocess"
    to_forecast = median([r["report"].get("time_to_forecast_s") for r in variant_runs(scale, month_variant)])
    rows.append(
        (
            f"normal month, landed file -> forecast file: {LABELS[month_variant]}, "
            "process start to forecasts step done",
            _seconds(to_forecast),
            "<= 40 s",
            verdict(to_forecast, LIMITS["month_s"]),
        )
    )
    rows += monitoring_targets(scale, month_variant)
    rows += tuning_targets(results)
    for figure, what in (("done_s", "end to end, process start -> run finished"), ("work_s", "after imports")):
        value = ratios(scale, figure).get("core-inprocess")
        rows.append(
            (f"Dagster in-process / plain ({what})", _times(value), "<= 1.10x", verdict(value, LIMITS["ratio"]))
        )
    for figure, what in (("done_s", "end to end"), ("work_s", "after imports")):
        value = ratios(scale, figure).get("core-multiprocess")
        if value is not None:
            rows.append((f"Dagster multiprocess / plain ({what})", _times(value), "no target", "–"))
    if results.get("backfill"):
        backfill = field(results["backfill"]["runs"], "wall_s")
        value = backfill and backfill["median"]
        rows.append(
            (
                f"{results['backfill']['months']}-month backfill, one run per month in order",
                _seconds(value),
                "<= 10 min",
                verdict(value, LIMITS["backfill_s"]),
            )
        )
    peak_where, peak = max(((where, run["peak_rss_mib"]) for where, run in every_run(results)), key=lambda p: p[1])
    rows.append(
        (
            f"peak memory of any run, children included (at: {peak_where})",
            f"{peak / 1024:.2f} GiB",
            "<= 2 GiB",
            verdict(peak, LIMITS["memory_mib"]),
        )
    )
    for name in ("plain", "core-inprocess", "score_month"):
        value = slope(linearity(results, name))
        if name in scale["variants"]:
            rows.append(
                (
                    f"linearity of {LABELS[name]}: log-log slope of time after imports over the scales",
                    "–" if value is None else f"{value:.2f}",
                    "<= 1.10 (1 = linear)",
                    verdict(value, LIMITS["slope"]),
                )
            )
    return rows


def monitoring_seconds(run: Run) -> float:
    """Step time of a month's monitoring and reports, their checks included."""
    return sum(
        step["wall_s"] or 0.0
        for step in run["report"].get("steps", [])
        if any(step["step"] == name or step["step"].startswith(f"{name}_") for name in MONITORING_ASSETS)
    )


def monitoring_targets(scale: dict[str, Any], month_variant: str) -> list[tuple[str, str, str, str]]:
    """Monitoring's total and the GX step of the measured month, when the whole month was measured."""
    runs = variant_runs(scale, month_variant)
    if month_variant != "score_month" or not runs:
        return []
    monitoring = median([monitoring_seconds(run) for run in runs])
    gx = step_walls(runs).get("validated_applications")
    rows = scale["generated"]["rows_per_month"]
    return [
        (
            f"monitoring and reports of a {rows:,}-row month ({', '.join(MONITORING_ASSETS)}, "
            "their checks included): step time",
            _seconds(monitoring),
            "<= 5 s",
            verdict(monitoring, LIMITS["monitoring_s"]),
        ),
        (
            f"GX suite of a {rows:,}-row month: `validated_applications` step "
            "(reads raw, runs the suite, normalises, writes)",
            _seconds(gx and gx["median"]),
            "<= 1 s",
            verdict(gx and gx["median"], LIMITS["gx_s"]),
        ),
    ]


def tuning_targets(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The tuning month at the largest scale: whole run, with its trials and best AUCs."""
    scale = largest(results)
    runs = scale["tuning"] if scale else []
    if not runs:
        return []
    wall = field(runs, "wall_s")
    model = runs[0]["report"].get("model", {})
    detail = (
        f"{model.get('trials')} trials, {model.get('pruned_trials')} pruned, best search AUC "
        f"{model.get('best_search_auc', 0):.4f}, final validation AUC {model.get('validation_auc', 0):.4f}"
    )
    return [
        (
            f"tuning month, fresh Optuna study ({detail}): whole run",
            _seconds(wall and wall["median"]),
            "<= 3 min",
            verdict(wall and wall["median"], LIMITS["tuning_s"]),
        )
    ]


def _seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.1f} s" if value < 120 else f"{value:,.0f} s ({value / 60:.1f} min)"


def _times(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}x"


# --- markdown ------------------------------------------------------------------------------------------------


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows] + [""]


def _probe(m: dict[str, Any]) -> str:
    return f"{m['speed_probe_seconds']:.2f} s" if "speed_probe_seconds" in m else "not measured"


def machine_section(results: dict[str, Any]) -> list[str]:
    m = results["machine"]
    libraries = ", ".join(f"{name} {version}" for name, version in m["libraries"].items())
    load_end = m.get("load_average_end")
    rows = [
        ["CPU", f"{m['cpu']}"],
        ["cores", f"{m['logical_cpus']} logical, {m['usable_cpus']} usable"],
        ["single-core speed probe (10 million Python additions, best of 3)", _probe(m)],
        ["memory", f"{m['memory_gib']} GiB"],
        ["OS", m["os"]],
        ["Python", m["python"]],
        ["libraries", libraries],
        ["load average at start (1/5/15 min)", " / ".join(f"{v:.2f}" for v in m["load_average_start"])],
        ["load average at end", " / ".join(f"{v:.2f}" for v in load_end) if load_end else "–"],
    ]
    return ["## Machine", "", *_table(["", ""], rows)]


def settings_section(results: dict[str, Any]) -> list[str]:
    s = results["settings"]
    scale_rows = [
        f"{x['fraction']:g}: {x['rows']:,} rows (history {x['generated']['history_rows']:,} + "
        f"{x['generated']['months']} x {x['generated']['rows_per_month']:,})"
        for x in results["scales"]
    ]
    lines = [
        "## Settings",
        "",
        f"- Command: `{s['command']}` (started {s.get('started', '?')}, finished {s.get('finished', 'not yet')})",
        f"- Scales: {'; '.join(scale_rows) or '–'}. Generator seed {s['seed']}; model seed {s['model_seed']}; "
        f"LightGBM threads {s['threads']}; Optuna trials of a tuning month {s['tune_trials']}.",
        f"- Repetitions: {s['repeat']} per normal-month variant (order rotated per repetition), "
        f"{s['tune_repeat']} of the "
        f"tuning month, {s['backfill_repeat']} of the backfill. Figures are median (min–max).",
        f"- Model config of the measured month: `{json.dumps(s['model_config'])}` (gate limits opened so a noisy "
        "small month cannot stop the run; the gate is still computed).",
    ]
    return lines + [""]


def full_scale_warning(results: dict[str, Any]) -> list[str]:
    """A warning above the targets when the run was not at full scale."""
    s = results["settings"]
    if s["full_scale"]:
        return []
    return [
        f"**Not a full-scale run** ({s['rows']:,} rows at scale 1, largest scale {max(s['scales']):g}): these "
        "verdicts do not answer the issue's targets; run the command in 'How to run' for those.",
        "",
    ]


def normal_month_section(scale: dict[str, Any]) -> list[str]:
    """The variants of the measured month side by side."""
    ends, works = ratios(scale, "done_s"), ratios(scale, "work_s")
    rows = []
    for name, runs in scale["variants"].items():
        rows.append(
            [
                LABELS[name],
                fmt(field(runs, "done_s")),
                fmt(field(runs, "time_to_forecast_s")),
                fmt(field(runs, "imports_s")),
                fmt(field(runs, "work_s")),
                fmt(field(runs, "cpu_s")),
                fmt(field(runs, "peak_rss_mib"), "MiB", 0),
                "1" if name == "plain" else f"{_times(ends.get(name))} / {_times(works.get(name))}",
                "yes" if all(r["ok"] for r in runs) else "**no**",
            ]
        )
    digests = {r["report"].get("forecast_sha256") for runs in scale["variants"].values() for r in runs}
    same = "identical in every run" if len(digests) == 1 and None not in digests else f"{len(digests)} different files"
    return [
        f"## Normal month {scale['measured_month']} at scale {scale['fraction']:g} ({scale['rows']:,} rows)",
        "",
        f"The month after the tuned month {scale['tuned_month']}: trains on every labelled month before it "
        "with the tuned "
        "month's best parameters (`retune: never`), scores the month's file. Every run starts a fresh process on a "
        "fresh copy of the same prepared storage root and Dagster instance. *End to end*: launch of the process until "
        "the work is done (interpreter start and imports included); *after imports*: the same without the interpreter "
        "start and imports; CPU and peak memory include child processes.",
        "",
        *_table(
            [
                "variant",
                "end to end",
                "to forecast file",
                "imports",
                "after imports",
                "CPU (user+sys)",
                "peak RSS",
                "ratio to (a): end to end / after imports",
                "all ok",
            ],
            rows,
        ),
        f"Forecast files of all variants and repetitions: {same} (SHA-256). {model_line(scale)}",
        "",
    ]


def model_line(scale: dict[str, Any]) -> str:
    """The measured month's model as its cards state it, and whether every run trained the same one."""
    cards = [r["report"].get("model") for runs in scale["variants"].values() for r in runs if r["report"].get("model")]
    if not cards:
        return ""
    first = cards[0]
    same = (
        "the same model version in every run"
        if len({c["version"] for c in cards}) == 1
        else "**different model versions**"
    )
    return (
        f"Model: parameters from {first['params_source']}, {first['train_rows']:,} training rows, best iteration "
        f"{first['best_iteration']}, validation AUC {first['validation_auc']:.4f}; {same}."
    )


def plain_stage_section(scale: dict[str, Any]) -> list[str]:
    stages = stage_table(variant_runs(scale, "plain"))
    if not stages:
        return []
    rows = [[name, fmt(wall, digits=2), fmt(cpu, digits=2)] for name, (wall, cpu) in stages.items()]
    return ["### (a) plain script per stage", "", *_table(["stage", "wall", "CPU"], rows)]


def step_section(scale: dict[str, Any]) -> list[str]:
    """Per Dagster step (event log STEP_START -> STEP_SUCCESS) of each Dagster variant."""
    names = [n for n in ("core-inprocess", "core-multiprocess", "score_month") if variant_runs(scale, n)]
    if not names:
        return []
    walls = {name: step_walls(variant_runs(scale, name)) for name in names}
    delays = worker_start_delays(variant_runs(scale, "core-multiprocess"))
    steps = list(dict.fromkeys(step for name in names for step in walls[name]))
    header = ["step", *[LABELS[n].split(",")[0] for n in names]]
    if delays:
        header.append("(c): step process start -> step start")
    rows = [
        [
            step,
            *[fmt(walls[n].get(step), digits=2) for n in names],
            *([fmt(delays.get(step), digits=2)] if delays else []),
        ]
        for step in steps
    ]
    totals = ["**imports + definitions**", *[fmt(field(variant_runs(scale, n), "imports_s"), digits=2) for n in names]]
    rows.append(totals + ([""] if delays else []))
    return ["### Dagster per step (event log: step start -> step success)", "", *_table(header, rows)]


TIMELINE = (
    ("imports_s", "imports done (dagster, GX, LightGBM, the project; Dagster: the definitions too)"),
    ("instance_ready_s", "Dagster instance open"),
    ("job_ready_s", "job definition resolved"),
    ("RUN_START", "run started (event log)"),
    ("first_step_s", "first step started"),
    ("time_to_forecast_s", "forecast file written"),
    ("last_step_s", "last step finished"),
    ("RUN_SUCCESS", "run finished (event log)"),
    ("done_s", "work done (execute returned)"),
    ("reported_s", "figures collected"),
    ("wall_s", "process exited"),
)


def mark(run: Run, name: str) -> float | None:
    """Seconds from process launch to a point of a run (see TIMELINE)."""
    report = run["report"]
    starts = [s["start_s"] for s in report.get("steps", []) if s.get("start_s") is not None]
    ends = [s["end_s"] for s in report.get("steps", []) if s.get("end_s") is not None]
    derived = {"first_step_s": min(starts, default=None), "last_step_s": max(ends, default=None)}
    if name in derived:
        return derived[name]
    if name in report.get("run", {}):
        return report["run"][name]
    return run.get(name, report.get(name))


def timeline_section(scale: dict[str, Any]) -> list[str]:
    """Median seconds from process launch to each point of a month's run, per variant."""
    names = list(scale["variants"])
    rows = []
    for key, text in TIMELINE:
        cells = [median([mark(r, key) for r in variant_runs(scale, n)]) for n in names]
        if any(c is not None for c in cells):
            rows.append([text, *["–" if c is None else f"{c:.2f} s" for c in cells]])
    return [
        "### Timeline of a run (median seconds since the process was launched)",
        "",
        *_table(["point", *[LABELS[n].split(",")[0] for n in names]], rows),
    ]


def tuning_section(results: dict[str, Any]) -> list[str]:
    rows = []
    for scale in results["scales"]:
        runs = scale["tuning"]
        model = step_walls(runs).get("model")
        rows.append(
            [
                f"{scale['fraction']:g} ({scale['rows']:,})",
                scale["tuned_month"],
                fmt(field(runs, "wall_s")),
                fmt(model),
                fmt(field(runs, "cpu_s")),
                fmt(field(runs, "peak_rss_mib"), "MiB", 0),
                "yes" if all(r["ok"] for r in runs) else "**no**",
            ]
        )
    trials = results["settings"]["tune_trials"]
    return [
        "## Tuning month",
        "",
        f"The first month after the history with `retune: always` ({trials} Optuna trials on "
        "the out-of-time validation slice, then the final fit), through the core path in-process.",
        "",
        *_table(["scale (rows)", "month", "whole run", "model step", "CPU", "peak RSS", "ok"], rows),
    ]


def linearity_section(results: dict[str, Any]) -> list[str]:
    names = [n for n in LABELS if any(variant_runs(s, n) for s in results["scales"])]
    rows = []
    for scale in results["scales"]:
        cells = []
        for name in names:
            work = median([r["report"].get("work_s") for r in variant_runs(scale, name)])
            cells.append("–" if work is None else f"{work:.1f} s ({1000 * work / scale['rows']:.2f} ms/1k rows)")
        rows.append([f"{scale['fraction']:g}", f"{scale['rows']:,}", *cells])
    slopes = [
        "slope",
        "",
        *["–" if slope(linearity(results, n)) is None else f"{slope(linearity(results, n)):.2f}" for n in names],
    ]
    return [
        "## Linearity",
        "",
        "Median time after imports of the normal month by scale (the month's own file is "
        "scaled too, the training window grows with the history). Slope: log-log between the smallest and the largest "
        "scale; 1.00 is linear, below 1 means fixed costs still weigh.",
        "",
        *_table(["scale", "rows", *[LABELS[n].split(",")[0] for n in names]], rows + [slopes]),
    ]


def setup_row(label: str, generated: dict[str, Any], history: dict[str, Any]) -> list[str]:
    """One row of the setup table: data generation and the history month's ingest."""
    return [
        label,
        f"{generated['history_rows']:,}",
        "reused" if generated["reused"] else f"{generated['seconds']:.1f} s",
        fmt(field([history], "wall_s")),
        fmt(field([history], "cpu_s")),
        fmt(field([history], "peak_rss_mib"), "MiB", 0),
        "yes" if history["ok"] else "**no**",
    ]


def setup_section(results: dict[str, Any]) -> list[str]:
    rows = [
        setup_row(f"{scale['fraction']:g}", scale["generated"], scale["history_ingest"]) for scale in results["scales"]
    ]
    if results.get("backfill"):
        rows.append(setup_row("backfill", results["backfill"]["generated"], results["backfill"]["history_ingest"]))
    steps = []
    scale = largest(results)
    if scale:
        walls = step_walls([scale["history_ingest"]])
        steps = [
            "History ingest per step at the largest scale: "
            + ", ".join(f"{k} {fmt(v, digits=1)}" for k, v in walls.items()),
            "",
        ]
    return [
        "## Setup (not part of the month figures)",
        "",
        "Generating the landing files (all months of the scale) and "
        "ingesting the history month (`ingest_month`: raw, validated with the GX suite, features, data profile).",
        "",
        *_table(["scale", "history rows", "generate", "history ingest", "CPU", "peak RSS", "ok"], rows),
        *steps,
    ]


def backfill_section(results: dict[str, Any]) -> list[str]:
    backfill = results.get("backfill")
    if not backfill:
        return ["## Backfill", "", "Skipped (`--skip-backfill`).", ""]
    runs = backfill["runs"]
    per_month: dict[str, dict[str, list]] = {}
    for run in runs:
        for month in run["report"].get("months", []):
            entry = per_month.setdefault(month["month"], {"wall": [], "model": [], "ok": [], "tuned": [], "rows": []})
            entry["tuned"].append(bool(month.get("model", {}).get("tuned_this_month")))
            entry["rows"].append(month.get("model", {}).get("train_rows"))
            entry["wall"].append(month["wall_s"])
            entry["model"].append(next((s["wall_s"] for s in month.get("steps", []) if s["step"] == "model"), None))
            entry["ok"].append(bool(month.get("success")))
    rows = [
        [
            m,
            fmt(spread(e["wall"])),
            fmt(spread(e["model"])),
            "yes" if any(e["tuned"]) else "",
            "–" if e["rows"][0] is None else f"{e['rows'][0]:,}",
            "yes" if all(e["ok"]) else "**no**",
        ]
        for m, e in per_month.items()
    ]
    return [
        f"## Backfill: {backfill['months']} months",
        "",
        f"{backfill['rows']:,} rows = history {backfill['history_rows']:,} + {backfill['months']} x "
        f"{backfill['rows_per_month']:,}. After the history is ingested (setup), every month runs as its own "
        f"`score_month` run in a fresh process, in month order, like runs launched by Dagster's run launcher: the "
        "next month starts when the previous month's run has finished (as Dagster's run queue frees the slot), "
        "while that process's interpreter teardown may still be under way; model "
        f"`retune: {backfill['retune']}` (auto = the platform default, tunes when no study exists or the newest "
        "is 12 months old).",
        "",
        *_table(
            ["", "value"],
            [
                ["total wall", fmt(field(runs, "wall_s"))],
                ["CPU (user+sys)", fmt(field(runs, "cpu_s"))],
                ["peak RSS", fmt(field(runs, "peak_rss_mib"), "MiB", 0)],
                ["all months ok", "yes" if all(r["ok"] for r in runs) else "**no**"],
            ],
        ),
        *_table(["month", "run: launch to finished", "model step", "tuned", "training rows", "ok"], rows),
    ]


def markdown(results: dict[str, Any]) -> str:
    """The whole BENCHMARKS.md."""
    lines = [
        "# Benchmarks",
        "",
        "Generated by `bench/benchmark.py` (issue #7); do not edit by hand. Raw measurements: `docs/benchmarks.json`.",
        "What change control costs (a month without a trigger, a development with the LDA search, the backfill at "
        "the default cadence): [model_risk_benchmark.md](model_risk_benchmark.md), from `bench/model_risk.py`.",
        "The decision service under load (latency and throughput of single applications from 32 clients, a batch "
        "of 1,000, a promotion during a load run): [decision_api_benchmark.md](decision_api_benchmark.md), from "
        "`bench/decision_api.py`.",
        "",
        "## How to run",
        "",
        "On a quiet machine (nothing else running), from the project folder:",
        "",
        "```bash",
        ".venv/bin/python -m bench.benchmark            # full scale: 1/4, 1/2, 1; 3 repetitions; 24-month backfill",
        ".venv/bin/python -m bench.benchmark --help     # --scale, --repeat, --skip-backfill, --months, ...",
        "```",
        "",
        "A smoke run that exercises every part in a few minutes: `.venv/bin/python -m bench.benchmark --rows 4000 "
        "--scale 0.5,1 --repeat 1 --tune-trials 2 --months 2 --threads 1`.",
        "",
        "## Targets",
        "",
        *full_scale_warning(results),
        *_table(["target", "measured", "limit", "verdict"], [list(r) for r in targets(results)]),
        *machine_section(results),
        *settings_section(results),
    ]
    scale = largest(results)
    if scale:
        lines += [
            *normal_month_section(scale),
            *timeline_section(scale),
            *plain_stage_section(scale),
            *step_section(scale),
        ]
    lines += [
        *tuning_section(results),
        *linearity_section(results),
        *backfill_section(results),
        *setup_section(results),
    ]
    lines += [
        "## Method",
        "",
        "- Each measurement is one process (`python -m bench.workers ...`) started by the benchmark; wall time from "
        "its start to its exit, CPU from `wait4` (user + sys of the process and every child it waited for), peak "
        "memory as the larger of the kernel's high-water mark of the largest single process and the sum of RSS over "
        "the process tree sampled every 0.2 s.",
        "- (a) calls the functions the assets call (`read_landing_csv`, `quality.validate`, `normalise`, "
        "`build_features`, `training_data`, `train_month_models` (parameters, fit, calibration, gate, scorecard), "
        "`ModelRegistry.register`, `model_charts`, `forecasts.score`, the forecast `audit`) and writes the same "
        "tables and files, keeping frames in memory between stages: the same work, without what exists only for "
        "Dagster (asset metadata such as column schemas and previews, the event log, the run and its steps).",
        "- (b) and (c) run the same five assets with their checks (`bench/jobs.py`); (b) with `execute_in_process`, "
        "(c) with `dg.execute_job(dg.reconstructable(...))` and run config `execution: {config: {multiprocess: {}}}` "
        "(spawned step processes, as many at once as CPUs). (b+) is the platform's `score_month` job unchanged.",
        "- *To forecast file*: for Dagster the end of the `forecasts` step in the event log, for (a) the moment "
        "the CSV "
        "export was renamed into place; both counted from the launch of the process. The sensor's polling (30 s) "
        "and the landing file's 10 s settling time come on top in production and are not measured.",
        "- Month order and partitions follow the platform: history 2020-09, tuned month 2020-10, "
        "measured month 2020-11.",
        "",
    ]
    return "\n".join(lines)


def console_summary(results: dict[str, Any]) -> str:
    """The targets and the ratios for the terminal."""
    lines = ["", "Targets:"] + [
        f"  {verdict_text:>14}  {measured:>12}  {limit:>10}  {target}"
        for target, measured, limit, verdict_text in targets(results)
    ]
    scale = largest(results)
    if scale:
        for figure in ("done_s", "work_s"):
            found = ratios(scale, figure)
            lines.append(f"Ratios to plain ({figure}): " + ", ".join(f"{n} {_times(v)}" for n, v in found.items()))
    lines.append("all measurements ok" if all_ok(results) else "SOME MEASUREMENTS FAILED: see the logs")
    return "\n".join(lines)


def write(results: dict[str, Any], folder: Path) -> None:
    """BENCHMARKS.md and benchmarks.json, each written to a temp file and renamed into place."""
    results["written"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    write_text(folder / "benchmarks.json", json.dumps(results, indent=1, default=str))
    write_text(folder / "BENCHMARKS.md", markdown(results))
