"""One month's core path as a plain script: the functions the assets call, without any Dagster machinery.

Same inputs and outputs as the Dagster core path (raw, validated and feature tables, model file and card,
forecast table and CSV export, all under the same storage layout), same GX suite, same parameters. Frames
stay in memory between stages instead of being read back; the Dagster-only extras (asset metadata such as
column schemas, the landing file's SHA-256, ROC and importance plots, the forecast checks) are not done.
`StorageResource` is used as a plain object that knows the paths: no Dagster context, instance or executor.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from credit_assets import modeling, quality, schema
from credit_assets.assets.features import build_features, feature_names
from credit_assets.assets.forecasts import ForecastConfig, score
from credit_assets.assets.model import ModelConfig, choose_params, fit_with_selection, gate, previous_model_auc
from credit_assets.assets.validated_applications import earlier_ids, normalise
from credit_assets.landing import read_landing_csv
from credit_assets.partitions import landing_file_name
from credit_assets.resources.storage import StorageResource, atomic_write

Stages = list[dict[str, Any]]


@contextmanager
def stage(stages: Stages, name: str) -> Iterator[None]:
    """Record the wall and CPU time of the enclosed block as one stage."""
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    stages.append({"stage": name, "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu})


def ingest(storage: StorageResource, month: str, stages: Stages) -> Any:
    """Landing CSV -> raw table -> GX suite -> validated table -> feature table; returns the features."""
    with stage(stages, "read_landing_csv"):
        raw = read_landing_csv(storage.landing_dir / landing_file_name(month))
    with stage(stages, "write_raw"):
        storage.write_table("raw_applications", month, raw)
    with stage(stages, "validate_gx"):
        failed = [o.summary() for o in quality.validate(raw, earlier_ids(storage, month)) if not o.passed]
    if failed:
        raise RuntimeError(f"{month} broke blocking rules: {failed}")
    with stage(stages, "normalise_write_validated"):
        validated = normalise(raw)
        storage.write_table("validated_applications", month, validated)
    with stage(stages, "build_write_features"):
        frame = build_features(validated)
        storage.write_table("features", month, frame)
    return frame


def train(storage: StorageResource, month: str, config: ModelConfig, stages: Stages) -> tuple[Any, str]:
    """Training window, parameters, fit, validation metrics, gate and stored model; returns booster and version."""
    with stage(stages, "read_training_data"):
        data = modeling.training_data(storage, month)
    with stage(stages, "choose_params"):
        params, provenance = choose_params(config, storage, month, data, feature_names())
    with stage(stages, "fit_lightgbm"):
        booster, importance = fit_with_selection(config, data, params)
    with stage(stages, "validate_and_gate"):
        scores = modeling.metrics(data.validation[schema.TARGET_COLUMN], modeling.predict(booster, data.validation))
        passed, verdict = gate(config, scores["roc_auc"], previous_model_auc(storage, month, data.validation))
    if not passed:
        raise RuntimeError(f"model for {month} not promoted: {verdict}")
    with stage(stages, "save_model"):
        card = {
            "month": month,
            "window": data.window(),
            "params": {**modeling.BASE_PARAMS, **params},
            "params_provenance": provenance,
            "seed": config.seed,
            "num_threads": config.num_threads,
            "best_iteration": booster.best_iteration,
            "features": booster.feature_name(),
            "validation_metrics": scores,
            "importance": importance.head(30).to_dict(orient="records"),
        }
        version = modeling.save_model(storage.artifact_dir("model", month), booster, card)
    return booster, version


def forecast(storage: StorageResource, month: str, frame: Any, booster: Any, version: str, stages: Stages) -> str:
    """Score the month, store the forecast table and export the CSV; returns the export path."""
    with stage(stages, "score_with_reasons"):
        table = score(frame, booster, version, ForecastConfig())
    with stage(stages, "write_forecasts"):
        storage.write_table("forecasts", month, table)
        path = storage.forecasts_dir / f"forecasts_{month}.csv"
        atomic_write(path, lambda tmp: table.to_csv(tmp, index=False))
    return str(path)


def run_month(storage: StorageResource, month: str, model_config: dict[str, Any], stages: Stages) -> str:
    """The whole core path of one month; returns the forecast file."""
    frame = ingest(storage, month, stages)
    booster, version = train(storage, month, ModelConfig(**model_config), stages)
    return forecast(storage, month, frame, booster, version, stages)
