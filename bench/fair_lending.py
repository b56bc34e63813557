"""The cost of lender-grade decisions, measured: forecast AUC and adverse impact ratios on full-scale generated
data, with the protected attributes in the model (as before), without them, and without them plus the
declared monotone constraints (as now).

`.venv/bin/python -m bench.fair_lending [--scale 1.0] [--out docs/fair_lending.json]` generates the article's
split (history + four monthly files, the last labelled), trains each variant with the same fixed parameters on
the history and the first two months, early-stops on the third and scores the fourth. Only `credit_assets.core`.
"""

import argparse
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.metrics import roc_auc_score

from bench.data import FULL_ROWS, generate, split
from credit_assets.core.contract import schema
from credit_assets.core.contract.landing import read_landing_csv
from credit_assets.core.contract.normalise import normalise
from credit_assets.core.features import DERIVED, build_features, feature_names, protected_features
from credit_assets.core.modeling.settings import ModelSettings
from credit_assets.core.modeling.training import TrainingData, fit, predict
from credit_assets.core.monitoring.fairness import FairnessSettings, assess
from credit_assets.core.months import landing_file_name
from credit_assets.core.scoring import Cutoffs, decide
from credit_assets.synthetic.generate import truth_file_name

ROOT = Path(__file__).resolve().parents[1]
PROTECTED_INPUTS = ["CODE_GENDER", "NAME_FAMILY_STATUS", "NAME_TYPE_SUITE", "DAYS_BIRTH", "CNT_FAM_MEMBERS"]
EXCLUDED_INPUTS = ["WEEKDAY_APPR_PROCESS_START", "HOUR_APPR_PROCESS_START"]


def with_everything(validated: pd.DataFrame) -> pd.DataFrame:
    """The month's features plus what the model used before: protected and excluded columns and their derivatives."""
    frame = build_features(validated)
    for name in PROTECTED_INPUTS + EXCLUDED_INPUTS:
        column = validated[name]
        frame[name] = column if isinstance(column.dtype, pd.CategoricalDtype) else column.astype("float32")
    exact = validated[sorted({s for d in DERIVED.values() for s in d.sources})].astype("float64")
    sentinel = schema.column("DAYS_EMPLOYED").sentinel
    exact["DAYS_EMPLOYED"] = exact["DAYS_EMPLOYED"].where(exact["DAYS_EMPLOYED"] != sentinel)
    for name in set(protected_features()) & set(DERIVED):
        frame[name] = DERIVED[name].compute(exact).astype("float32")
    return frame


VARIANTS = {
    "before: protected attributes in the model, no constraints": (True, False),
    "protected attributes removed, no constraints": (False, False),
    "now: protected attributes removed, monotone constraints": (False, True),
}


def air_table(month: str, scored: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    """Adverse impact ratio of every judged group, per protected attribute."""
    result = assess(month, scored, FairnessSettings())
    return {
        attribute: {
            g["group"]: g["adverse_impact_ratio"] for g in figures["groups"] if g["adverse_impact_ratio"] is not None
        }
        for attribute, figures in result.attributes.items()
    }


def run(scale: float, work: Path) -> dict[str, Any]:
    config = split(round(FULL_ROWS * scale), 4, seed=0)
    generate(config, work)
    months = config.month_keys
    validated = {m: normalise(read_landing_csv(work / "landing" / landing_file_name(m))) for m in months}
    everything = {m: with_everything(frame) for m, frame in validated.items()}
    train = pd.concat([everything[m] for m in months[:3]], ignore_index=True)
    data = TrainingData(train, everything[months[3]], months[:3], months[3:4], 0, 0.0)
    scored_month = months[4]
    target = everything[scored_month][schema.TARGET_COLUMN]
    truth = pd.read_parquet(work / "generator_truth" / truth_file_name(scored_month))
    results: dict[str, Any] = {
        "rows": FULL_ROWS if scale == 1 else round(FULL_ROWS * scale),
        "scored_month": scored_month,
        "oracle_auc": float(roc_auc_score(target, truth["probability"])),
        "variants": {},
    }
    for label, (protected, monotone) in VARIANTS.items():
        names = feature_names() + (
            PROTECTED_INPUTS + EXCLUDED_INPUTS + sorted(set(protected_features()) & set(DERIVED)) if protected else []
        )
        started = time.perf_counter()
        booster = fit(data, names, {}, ModelSettings(monotone=monotone))
        probability = predict(booster, everything[scored_month])
        joined = validated[scored_month][
            [schema.ID_COLUMN, "CODE_GENDER", "DAYS_BIRTH", "NAME_FAMILY_STATUS", schema.TARGET_COLUMN]
        ].assign(default_probability=probability, decision=decide(probability, Cutoffs()))
        results["variants"][label] = {
            "features": len(names),
            "forecast_auc": float(roc_auc_score(target, probability)),
            "validation_auc": float(
                roc_auc_score(data.validation[schema.TARGET_COLUMN], predict(booster, data.validation))
            ),
            "best_iteration": booster.best_iteration,
            "fit_seconds": round(time.perf_counter() - started, 1),
            "approval_rate": float((joined["decision"] == "approve").mean()),
            "adverse_impact_ratios": air_table(scored_month, joined),
        }
        print(label, json.dumps(results["variants"][label]), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--work", type=Path, default=ROOT / ".bench" / "fair_lending")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "fair_lending.json")
    args = parser.parse_args()
    results = run(args.scale, args.work)
    args.out.write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
