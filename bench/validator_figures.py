"""What a model validator and a fair-lending examiner read off a run: calibration in the large, notices' reasons and
one month's fairness table, from real Dagster runs on a split of real-format rows.

`.venv/bin/python -m bench.validator_figures --rows 11873 --rows-per-month 1000 --out docs/validator_figures.json`
generates `--rows` applications in the real file's 122 columns (one labelled file, as a sample of
application_train.csv), splits it with `split-real --any-size` into a history and four months, and materialises
every month (ingest, model, forecasts, notices, performance, fairness) with the project's definitions in an
ephemeral Dagster instance. It reads back only stored forecasts, labels and the run's metadata, and computes
its own figures from them (observed against expected defaults, reasons per notice), so the same script measures
an older checkout too (run it there with PYTHONPATH pointing at that checkout).
"""

import argparse
import json
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import roc_auc_score

from credit_assets.core.contract import schema
from credit_assets.core.months import FIRST_MONTH, month_sequence
from credit_assets.core.store import LANDING
from credit_assets.definitions import defs
from credit_assets.defs.decision_log import DecisionLogResource
from credit_assets.defs.forecast_freshness import forecast_freshness_checks
from credit_assets.defs.storage import StorageResource
from credit_assets.synthetic.generate import GeneratorConfig, generate_landing_files
from credit_assets.synthetic.split_real import split_real

INGEST = ["raw_applications", "validated_applications", "features"]
MONTH_ASSETS = [*INGEST, "model", "forecasts", "adverse_action_notices", "forecast_performance", "fairness"]
ADVERSE = ("review", "decline")
EXT_FAMILY = "External credit score"  # every statement of the external-score features starts with it
FAIRNESS_ATTRIBUTES = ("sex", "age_band", "marital_status")


def sample_file(rows: int, seed: int, folder: Path) -> Path:
    """`rows` generated applications in the real file's labelled format, as one file."""
    config = GeneratorConfig(seed=seed, history_rows=rows, months=0)
    [path] = generate_landing_files(config, folder / "generated", folder / "truth")
    return path


def in_the_large(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, Any]:
    """Observed against expected defaults with z (variance sum p(1-p)) and its two-sided p-value."""
    expected, observed = float(probabilities.sum()), int(labels.sum())
    z = (observed - expected) / float(np.sqrt(np.sum(probabilities * (1 - probabilities))))
    return {
        "rows": len(labels),
        "expected": round(expected, 1),
        "observed": observed,
        "expected_rate": round(expected / len(labels), 4),
        "observed_rate": round(observed / len(labels), 4),
        "z": round(z, 2),
        "p": float(f"{2 * stats.norm.sf(abs(z)):.2g}"),
    }


def reason_figures(forecasts: pd.DataFrame) -> dict[str, Any]:
    """Shares of notices by number of reasons, the most frequent reasons, and the external scores named twice."""
    reasons = forecasts.loc[forecasts["decision"].isin(ADVERSE), [c for c in forecasts if c.startswith("reason_")]]
    given = reasons.where(reasons != "")
    counts = given.notna().sum(axis=1)
    external = given.apply(lambda column: column.str.startswith(EXT_FAMILY, na=False)).sum(axis=1)
    top = Counter(given.stack().dropna().tolist()).most_common(8)  # pandas 3 keeps NaN when stacking
    return {
        "notices": len(reasons),
        "share_by_reason_count": {int(k): round(float(v), 3) for k, v in counts.value_counts(normalize=True).items()},
        "share_naming_external_scores_twice_or_more": round(float((external >= 2).mean()), 3),
        "top_reasons": [{"reason": text, "notices": n, "share": round(n / len(reasons), 3)} for text, n in top],
    }


def metadata_of(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    """The run's materialisation metadata of `asset`, values unwrapped (tables as lists of rows)."""
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == asset]
    found = event.step_materialization_data.materialization.metadata
    return {
        key: [dict(r.data) for r in value.records] if isinstance(value, dg.TableMetadataValue) else value.value
        for key, value in found.items()
    }


def checks_of(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    """Every check of the run: passed, severity and description."""
    return {
        e.check_name: {"passed": e.passed, "severity": str(e.severity.value), "description": e.description}
        for e in result.get_asset_check_evaluations()
    }


def run_month(storage: StorageResource, month: str, selection: list[str], instance: dg.DagsterInstance) -> Any:
    assets = list({id(a): a for a in defs.assets or []}.values())
    checks = [c for c in {id(c): c for c in defs.asset_checks or []}.values() if c not in forecast_freshness_checks]
    result = dg.materialize(
        [*assets, *checks],
        selection=selection,
        partition_key=month,
        resources={"storage": storage, "decision_log": DecisionLogResource(storage_root=storage.root)},
        instance=instance,
        raise_on_error=False,
    )
    if not result.success:
        raise RuntimeError(f"{month}: the run failed: {[e.message for e in result.all_events if e.is_failure]}")
    return result


def month_figures(storage: StorageResource, month: str, result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    forecasts = storage.store.read_table("forecasts", month)
    labels = storage.store.read_table("validated_applications", month, [schema.ID_COLUMN, schema.TARGET_COLUMN])
    joined = forecasts.merge(labels, on=schema.ID_COLUMN)
    y, p = joined[schema.TARGET_COLUMN].to_numpy(), joined["default_probability"].to_numpy()
    approved = (joined["decision"] == "approve").to_numpy()
    model = metadata_of(result, "model")
    fairness = metadata_of(result, "fairness")
    return {
        "month": month,
        "model": {
            key: model.get(key)
            for key in ("family", "calibration_method", "train_rows", "validation_rows", "deployed_train_rows")
        },
        "auc": round(float(roc_auc_score(y, p)), 4),
        "in_the_large": in_the_large(y, p),
        "approved_in_the_large": in_the_large(y[approved], p[approved]),
        "decisions": joined["decision"].value_counts().to_dict(),
        "reasons": reason_figures(forecasts),
        "fairness": {attribute: fairness.get(attribute) for attribute in FAIRNESS_ATTRIBUTES},
        "checks": checks_of(result),
    }


def measure(rows: int, rows_per_month: int, seed: int, work: Path) -> dict[str, Any]:
    """Generate, split and run every month; the figures of each scored month."""
    source = sample_file(rows, seed, work)
    storage = StorageResource(root=str(work / "root"))
    landing = storage.store.local_folder(LANDING)
    landing.mkdir(parents=True)
    written = split_real(source, landing, any_size=True, block_rows=rows_per_month)
    keys = month_sequence(FIRST_MONTH, len(written))
    started = time.perf_counter()
    with dg.instance_for_test() as instance:
        run_month(storage, keys[0], INGEST, instance)
        scored = [month_figures(storage, m, run_month(storage, m, MONTH_ASSETS, instance)) for m in keys[1:]]
    seconds = round(time.perf_counter() - started)
    return {"rows": rows, "rows_per_month": rows_per_month, "seed": seed, "seconds": seconds, "months": scored}


def large_text(found: dict[str, Any]) -> str:
    return f"{found['observed']} / {found['expected']:.0f} (z {found['z']:+.1f}, p {found['p']:.2g})"


def month_rows(label: str, run: dict[str, Any]) -> list[str]:
    """One Markdown row per month: AUC, calibration in the large, the calibrated check, reasons per notice."""
    rows = []
    for m in run["months"]:
        counts = m["reasons"]["share_by_reason_count"]
        shares = ", ".join(f"{k}: {counts[k]:.0%}" for k in sorted(counts, key=int))
        check = m["checks"]["calibrated"]
        verdict = "passes" if check["passed"] else "warns"
        trained = m["model"].get("deployed_train_rows") or m["model"]["train_rows"]  # absent before the refit
        rows.append(
            f"| {label} | {m['month']} | {trained:,} | {m['auc']:.4f} | "
            f"{large_text(m['in_the_large'])} | {large_text(m['approved_in_the_large'])} | {verdict} | {shares} | "
            f"{m['reasons']['share_naming_external_scores_twice_or_more']:.0%} |"
        )
    return rows


def fairness_rows(table: list[dict[str, Any]]) -> list[str]:
    keys = list(table[0])
    return [f"| {' | '.join(keys)} |", f"|{'---|' * len(keys)}"] + [
        f"| {' | '.join('' if row[k] is None else str(row[k]) for k in keys)} |" for row in table
    ]


def report(runs: dict[str, dict[str, Any]]) -> str:
    """Markdown comparing runs (label -> figures): per-month figures, top reasons and the last month's fairness."""
    lines = [
        "| code | month | rows the deployed model trained on | AUC | defaults observed / expected, all "
        "| approved | `calibrated` "
        "| notices by number of reasons | notices naming external scores twice |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, run in runs.items():
        lines += month_rows(label, run)
    for label, run in runs.items():
        last = run["months"][-1]
        top = "; ".join(f"{r['reason']} {r['share']:.0%}" for r in last["reasons"]["top_reasons"][:6])
        lines += [
            "",
            f"**{label}, {last['month']}: most frequent reasons** ({last['reasons']['notices']:,} notices): {top}",
        ]
    for label, run in runs.items():
        last = run["months"][-1]
        lines += ["", f"**{label}, {last['month']}: fairness (decisions)**", ""]
        for attribute, table in last["fairness"].items():
            lines += [f"{attribute}:", "", *fairness_rows(table), ""]
        warning = last["checks"].get("no_significant_adverse_impact", {})
        lines += [f"Check `no_significant_adverse_impact`: {warning.get('description')}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=11_873)
    parser.add_argument("--rows-per-month", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="where the figures go as JSON")
    parser.add_argument(
        "--report", nargs="+", metavar="LABEL=FILE", help="instead of measuring, print Markdown comparing stored runs"
    )
    args = parser.parse_args()
    if args.report:
        runs = dict(item.split("=", 1) for item in args.report)
        print(report({label: json.loads(Path(path).read_text()) for label, path in runs.items()}), end="")
        return
    work = Path(tempfile.mkdtemp(prefix="validator-figures-", dir="/var/tmp"))
    try:
        found = measure(args.rows, args.rows_per_month, args.seed, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.write_text(json.dumps(found, indent=1, default=str) + "\n")
    print(json.dumps(found, indent=1, default=str))


if __name__ == "__main__":
    main()
