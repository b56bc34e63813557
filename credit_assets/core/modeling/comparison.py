"""Model comparison: the article's PyCaret model comparison, rebuilt with scikit-learn Pipelines.

Five model families train on a seeded, label-stratified subsample of the model's training months and are
scored on the model's full out-of-time validation slice, so their AUCs compare with the LightGBM that ships.
"""

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier
from threadpoolctl import threadpool_limits

from credit_assets.core import plots
from credit_assets.core.contract import schema
from credit_assets.core.features import categorical_feature_names, feature_names
from credit_assets.core.modeling.training import TrainingData, metrics

REPORT_FILE = "comparison.json"
CHART_FILE = "roc_auc.png"
LIGHTGBM_TREES = 300
LINEAR_MAX_ITER = 5_000


@dataclass(frozen=True)
class ComparisonSettings:
    """How the compared models are sampled, seeded and threaded."""

    seed: int = 42
    max_train_rows: int = 50_000  # seeded, label-stratified subsample of the training rows
    num_threads: int = 2
    forest_trees: int = 200


def preprocessor(scale: bool) -> ColumnTransformer:
    """Median imputation plus missing indicators (optionally scaled) for numerics; one-hot over contract levels."""
    categorical = categorical_feature_names()
    numeric = [name for name in feature_names() if name not in categorical]
    numeric_steps = [SimpleImputer(strategy="median", add_indicator=True), *([StandardScaler()] if scale else [])]
    one_hot = OneHotEncoder(
        categories=[list(schema.column(name).levels) for name in categorical],
        handle_unknown="ignore",  # a missing level encodes as all zeros
        sparse_output=False,
    )
    return ColumnTransformer(
        [("numeric", make_pipeline(*numeric_steps), numeric), ("categorical", one_hot, categorical)]
    )


def _pipeline(model: ClassifierMixin, prep: ColumnTransformer | None = None) -> Pipeline:
    return Pipeline([*([("prep", prep)] if prep is not None else []), ("model", model)])


def candidates(config: ComparisonSettings) -> dict[str, Pipeline]:
    """The compared models, each a Pipeline from the feature frame to a default probability."""
    seed, threads = config.seed, config.num_threads
    lightgbm = lgb.LGBMClassifier(
        n_estimators=LIGHTGBM_TREES,
        learning_rate=0.05,
        num_leaves=31,
        min_child_samples=50,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        reg_lambda=1.0,
        random_state=seed,
        n_jobs=threads,
        deterministic=True,
        force_row_wise=True,
        verbose=-1,
    )
    return {
        "logistic_regression": _pipeline(LogisticRegression(max_iter=LINEAR_MAX_ITER), preprocessor(scale=True)),
        "decision_tree": _pipeline(DecisionTreeClassifier(random_state=seed), preprocessor(scale=False)),
        "random_forest": _pipeline(
            RandomForestClassifier(n_estimators=config.forest_trees, n_jobs=threads, random_state=seed),
            preprocessor(scale=False),
        ),
        "linear_svm_calibrated": _pipeline(
            CalibratedClassifierCV(LinearSVC(max_iter=LINEAR_MAX_ITER, random_state=seed)), preprocessor(scale=True)
        ),
        "lightgbm": _pipeline(lightgbm),  # splits the pandas categoricals natively
    }


def subsample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """At most `rows` rows, stratified by the label and seeded; the whole frame when it is small enough."""
    if len(frame) <= rows:
        return frame
    kept, _ = train_test_split(frame, train_size=rows, stratify=frame[schema.TARGET_COLUMN], random_state=seed)
    return kept.sort_index()


def evaluate(name: str, pipeline: Pipeline, train: pd.DataFrame, validation: pd.DataFrame) -> dict[str, Any]:
    """Fit on `train`, score on `validation`: the metrics of `training.metrics` plus fit seconds."""
    started = time.perf_counter()
    pipeline.fit(train[feature_names()], train[schema.TARGET_COLUMN].astype("int64"))
    seconds = time.perf_counter() - started
    probabilities = pipeline.predict_proba(validation[feature_names()])[:, 1]
    return {"model": name, **metrics(validation[schema.TARGET_COLUMN], probabilities), "fit_seconds": round(seconds, 3)}


def compare(
    models: dict[str, Pipeline], train: pd.DataFrame, validation: pd.DataFrame, log: Callable[[str], None]
) -> pd.DataFrame:
    """One row per model, best validation ROC AUC first."""
    rows = []
    for name, pipeline in models.items():
        rows.append(evaluate(name, pipeline, train, validation))
        log(f"{name}: validation ROC AUC {rows[-1]['roc_auc']}, fit {rows[-1]['fit_seconds']} s")
    ranked = pd.DataFrame(rows).sort_values(["roc_auc", "model"], ascending=[False, True], na_position="last")
    return ranked.reset_index(drop=True)


def auc_chart(month: str, results: pd.DataFrame) -> bytes:
    """Horizontal bars of validation ROC AUC per model, best on top."""
    ordered = results.iloc[::-1]
    aucs = ordered["roc_auc"].astype("float64")
    figure, axes = plots.new_figure(7, 3.5)
    axes.bar_label(axes.barh(ordered["model"], aucs), fmt="%.3f", padding=3)
    axes.set(
        xlim=(np.nanmin([*aucs, 0.55]) - 0.05, 1.0),
        xlabel="ROC AUC (out-of-time validation)",
        title=f"Model comparison for {month}",
    )
    return plots.png_bytes(figure)


def run_comparison(
    month: str, data: TrainingData, settings: ComparisonSettings, log: Callable[[str], None]
) -> dict[str, Any]:
    """Train and score every candidate on the model's out-of-time split; the report as a JSON-ready dict."""
    train = subsample(data.train, settings.max_train_rows, settings.seed)
    with threadpool_limits(limits=settings.num_threads):  # BLAS and OpenMP pools keep to the thread budget too
        results = compare(candidates(settings), train, data.validation, log)
    return {
        "month": month,
        "config": asdict(settings),
        "train_months": data.train_months,
        "validation_months": data.validation_months,
        "train_rows": len(data.train),
        "train_rows_used": len(train),
        "validation_rows": len(data.validation),
        "best_model": results["model"].iloc[0],
        "models": results.to_dict(orient="records"),
    }
