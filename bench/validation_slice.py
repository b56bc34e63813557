"""What the validation slice by default count and calibration change on small monthly files.

`.venv/bin/python -m bench.validation_slice [--out docs/validation_slice.json]` generates a history and six
monthly files of 1,000 applications (about 80 defaults each, the size of the issue's real-file trial), trains
the model of the sixth month twice with the default settings: (a) as before, early-stopped on the newest
labelled month alone and uncalibrated; (b) as now, on the newest rows holding 500 defaults, then calibrated.
It scores the sixth month with both and reports trees kept, the spread of the probabilities, AUC, log loss
and expected calibration error, for three seeds. Only `credit_assets.core`.
"""

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.metrics import log_loss, roc_auc_score

from credit_assets.core.contract import schema
from credit_assets.core.contract.normalise import normalise
from credit_assets.core.features import build_features, feature_names
from credit_assets.core.modeling.calibration import calibrate, expected_calibration_error
from credit_assets.core.modeling.models import LightGBMScorer
from credit_assets.core.modeling.settings import ModelSettings
from credit_assets.core.modeling.training import TrainingData, fit, split_out_of_time
from credit_assets.synthetic.generate import GeneratorConfig, generate_months

ROOT = Path(__file__).resolve().parents[1]
SEEDS = (1, 2, 3)


def months(seed: int) -> dict[str, pd.DataFrame]:
    config = GeneratorConfig(seed=seed, history_rows=6_000, months=6, rows_per_month=1_000)
    return {batch.month: build_features(normalise(batch.frame)) for batch in generate_months(config)}


def scored(data: TrainingData, target: pd.DataFrame, calibrated: bool) -> dict[str, Any]:
    settings = ModelSettings(num_threads=2)
    scorer = LightGBMScorer(fit(data, feature_names(), {}, settings))
    probabilities = expit(scorer.log_odds(target))
    method = "none"
    if calibrated:
        calibrator, report = calibrate(data.validation[schema.TARGET_COLUMN], expit(scorer.log_odds(data.validation)))
        probabilities, method = calibrator.apply(probabilities), report.method
    labels = target[schema.TARGET_COLUMN].to_numpy()
    return {
        "trees": scorer.booster.best_iteration,
        "validation_rows": len(data.validation),
        "validation_defaults": data.validation_defaults,
        "calibration": method,
        "probability_p5_p95": [round(float(q), 4) for q in np.quantile(probabilities, [0.05, 0.95])],
        "auc": round(float(roc_auc_score(labels, probabilities)), 4),
        "log_loss": round(float(log_loss(labels, probabilities)), 4),
        "ece": round(expected_calibration_error(labels, probabilities), 4),
    }


def run(seed: int) -> dict[str, Any]:
    frames = months(seed)
    *history, last = sorted(frames)
    labelled = {key: frames[key] for key in history}
    train = pd.concat([frames[key] for key in history[:-1]], ignore_index=True)
    newest_only = TrainingData(train, frames[history[-1]], history[:-1], history[-1:], 0, 0.0)
    by_defaults = split_out_of_time(
        labelled, ModelSettings().min_validation_defaults, ModelSettings().max_validation_share
    )
    return {
        "seed": seed,
        "before (newest month, uncalibrated)": scored(newest_only, frames[last], calibrated=False),
        "now (500 defaults, calibrated)": scored(by_defaults, frames[last], calibrated=True),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "validation_slice.json")
    args = parser.parse_args()
    results = [run(seed) for seed in SEEDS]
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
