"""What refitting on every labelled row changes in the scored month: with and without the refit, per month.

`.venv/bin/python -m bench.refit [--scale small|full|both] [--out docs/refit.json]` trains each monthly
model the way the model asset does with default parameters (no Optuna): the split out of time chooses the
LightGBM's trees by early stopping and each family's calibrator, then the model scores the month (a) as fitted
on the training rows alone, (b) refit on every labelled row with the chosen trees, (c) refit with the trees
scaled by the ratio of all labelled rows to training rows (small only: it did not pay there and doubles the
longest fit at full scale); the scorecard (a) and (b). The slice's calibrator is
applied to each. Per month and pooled: AUC, log loss, Brier, expected calibration error and calibration in the
large (observed against expected defaults, z).

small: a real-format application_train.csv of 11,873 generated rows (the contract's 122 columns), split by
`split_real` as `split-real --any-size --rows-per-month 1000` does (a history and four months of 1,000), for
three seeds. full: 307,511 generated rows, a history and four months of 10,000 (the benchmark's split), one
seed. Only `credit_assets.core` and the generator.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from bench.data import ARTICLE_MONTHS, FULL_ROWS, split
from credit_assets.core.contract import schema
from credit_assets.core.contract.landing import read_landing_csv
from credit_assets.core.contract.normalise import normalise
from credit_assets.core.features import build_features, feature_names
from credit_assets.core.modeling import scorecard
from credit_assets.core.modeling.calibration import calibrate, expected_calibration_error
from credit_assets.core.modeling.models import LightGBMScorer, ScorecardScorer, Scorer
from credit_assets.core.modeling.settings import ModelSettings
from credit_assets.core.modeling.training import TrainingData, fit, importance_table, refit, split_out_of_time
from credit_assets.core.monitoring.performance import in_the_large
from credit_assets.synthetic.generate import generate_applications, generate_months
from credit_assets.synthetic.split_real import split_real

ROOT = Path(__file__).resolve().parents[1]
SMALL_ROWS, SMALL_MONTH_ROWS, SMALL_SEEDS = 11_873, 1_000, (1, 2, 3)
FULL_SEED = 0
SETTINGS = ModelSettings()


def small_months(seed: int) -> dict[str, pd.DataFrame]:
    """A generated real-format file split into a history and four months, read as the landing files are."""
    frame, _ = generate_applications(SMALL_ROWS, seed)
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "application_train.csv"
        frame.to_csv(source, index=False)
        paths = split_real(source, Path(folder) / "landing", any_size=True, block_rows=SMALL_MONTH_ROWS)
        return {
            path.stem.removeprefix("applications_"): build_features(normalise(read_landing_csv(path))) for path in paths
        }


def full_months(seed: int) -> dict[str, pd.DataFrame]:
    return {
        batch.month: build_features(normalise(batch.frame))
        for batch in generate_months(split(FULL_ROWS, ARTICLE_MONTHS, seed))
    }


def scores(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, Any]:
    large = in_the_large(labels, probabilities)
    return {
        "auc": round(float(roc_auc_score(labels, probabilities)), 4),
        "log_loss": round(float(log_loss(labels, probabilities, labels=[0, 1])), 4),
        "brier": round(float(brier_score_loss(labels, probabilities)), 5),
        "ece": round(expected_calibration_error(labels, probabilities), 4),
        "observed_defaults": large["observed_defaults"],
        "expected_defaults": round(large["expected_defaults"], 1),
        "z": round(large["z"], 2) if "z" in large else None,
    }


def calibrated(validated: Scorer, deployed: dict[str, Scorer], data: TrainingData, target: pd.DataFrame) -> tuple:
    """Each deployed scorer's probabilities on the month, through the calibrator the validated fit chose."""
    calibrator, report = calibrate(data.validation[schema.TARGET_COLUMN], expit(validated.log_odds(data.validation)))
    return {name: calibrator.apply(expit(s.log_odds(target))) for name, s in deployed.items()}, report.method


def month_models(
    data: TrainingData, target: pd.DataFrame, with_scaled: bool
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Probabilities of the month under every variant (the scaled refit only `with_scaled`), and what each fit was."""
    start = time.perf_counter()
    booster = fit(data, feature_names(), {}, SETTINGS)
    trees, scaled = booster.best_iteration, round(booster.best_iteration * len(data.labelled) / len(data.train))
    deployed = {
        "lightgbm": LightGBMScorer(booster),
        "lightgbm_refit": LightGBMScorer(refit(data, booster.feature_name(), {}, SETTINGS, trees)),
    }
    if with_scaled:
        deployed["lightgbm_refit_scaled"] = LightGBMScorer(refit(data, booster.feature_name(), {}, SETTINGS, scaled))
    lightgbm, lightgbm_method = calibrated(LightGBMScorer(booster), deployed, data, target)
    importance = importance_table(booster)
    names = importance.loc[importance["gain"] > 0, "feature"].head(SETTINGS.scorecard_characteristics).tolist()
    card = ScorecardScorer(scorecard.fit_scorecard(data.train, names, SETTINGS.seed, SETTINGS.num_threads)[1])
    card_refit = scorecard.fit_scorecard(data.labelled, names, SETTINGS.seed, SETTINGS.num_threads)[1]
    points, card_method = calibrated(
        card, {"scorecard": card, "scorecard_refit": ScorecardScorer(card_refit)}, data, target
    )
    facts = {
        "train_rows": len(data.train),
        "validation_rows": len(data.validation),
        "validation_defaults": data.validation_defaults,
        "validation_months": data.validation_months,
        "labelled_rows": len(data.labelled),
        "trees": trees,
        "scaled_trees": scaled,
        "lightgbm_calibration": lightgbm_method,
        "scorecard_calibration": card_method,
        "seconds": round(time.perf_counter() - start, 1),
    }
    return {**lightgbm, **points}, facts


def run(frames: dict[str, pd.DataFrame], with_scaled: bool) -> dict[str, Any]:
    """Every monthly file scored by models trained on the months before it; per month and pooled."""
    keys = sorted(frames)
    months, pooled, labels = {}, {}, []
    for index, month in enumerate(keys[1:], start=1):
        earlier = {key: frames[key] for key in keys[:index]}
        data = split_out_of_time(earlier, SETTINGS.min_validation_defaults, SETTINGS.max_validation_share)
        truth = frames[month][schema.TARGET_COLUMN].to_numpy()
        probabilities, facts = month_models(data, frames[month], with_scaled)
        months[month] = {**facts, **{name: scores(truth, p) for name, p in probabilities.items()}}
        labels.append(truth)
        for name, p in probabilities.items():
            pooled.setdefault(name, []).append(p)
        print(json.dumps({month: months[month]}), flush=True)
    truth = np.concatenate(labels)
    return {"months": months, "overall": {name: scores(truth, np.concatenate(p)) for name, p in pooled.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("small", "full", "both"), default="both")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "refit.json")
    args = parser.parse_args()
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    if args.scale in ("small", "both"):
        results["small"] = {str(seed): run(small_months(seed), with_scaled=True) for seed in SMALL_SEEDS}
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    if args.scale in ("full", "both"):
        results["full"] = {str(FULL_SEED): run(full_months(FULL_SEED), with_scaled=False)}
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
