"""One month's core path as a plain script: the functions the assets call, without any Dagster machinery.

Same inputs and outputs as the Dagster core path (raw, validated and feature tables, model file and card,
forecast table and CSV export, all under the same storage layout), same GX suite, same parameters. Frames
stay in memory between stages instead of being read back. The work is the assets' own, charts and forecast
audit included; only what exists for Dagster is left out (asset metadata such as column schemas and previews,
the landing file's SHA-256, the event log).
Only `credit_assets.core` is imported: no Dagster context, instance or executor.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from credit_assets.core.contract import quality, schema
from credit_assets.core.contract.landing import parse_landing_csv
from credit_assets.core.contract.normalise import normalise
from credit_assets.core.databases import studies_url
from credit_assets.core.features import build_features
from credit_assets.core.modeling.charts import model_charts
from credit_assets.core.modeling.month_model import choose_champion, train_month_models
from credit_assets.core.modeling.registry import ModelRegistry
from credit_assets.core.modeling.settings import ModelSettings
from credit_assets.core.modeling.training import training_data
from credit_assets.core.months import landing_file_name, previous_month
from credit_assets.core.scoring import Cutoffs, audit, score
from credit_assets.core.store import FORECASTS_EXPORT, ArtifactStore

Stages = list[dict[str, Any]]


@contextmanager
def stage(stages: Stages, name: str) -> Iterator[None]:
    """Record the wall and CPU time of the enclosed block as one stage."""
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    stages.append({"stage": name, "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu})


def ingest(store: ArtifactStore, month: str, stages: Stages) -> Any:
    """Landing CSV -> raw table -> GX suite -> validated table -> feature table; returns the features."""
    with stage(stages, "read_landing_csv"):
        name = landing_file_name(month)
        raw = parse_landing_csv(name, store.read_landing(name))
    with stage(stages, "write_raw"):
        store.write_table("raw_applications", month, raw)
    with stage(stages, "validate_gx"):
        earlier = [key for key in store.table_months("validated_applications") if key < month]
        seen = quality.known_ids(
            store.read_table("validated_applications", key, [schema.ID_COLUMN])[schema.ID_COLUMN] for key in earlier
        )
        failed = [o.summary() for o in quality.validate(raw, seen) if not o.passed]
    if failed:
        raise RuntimeError(f"{month} broke blocking rules: {failed}")
    with stage(stages, "normalise_write_validated"):
        validated = normalise(raw)
        store.write_table("validated_applications", month, validated)
    with stage(stages, "build_write_features"):
        frame = build_features(validated)
        store.write_table("features", month, frame)
    return frame


def train(store: ArtifactStore, month: str, settings: ModelSettings, stages: Stages) -> tuple[Any, str]:
    """Training window, parameters, fit, validation metrics, gate and stored model; returns booster and version."""
    with stage(stages, "read_training_data"):
        load = lambda key, columns: store.read_table("features", key, columns)  # noqa: E731
        data = training_data(store.table_months("features"), load, month, settings)
    registry = ModelRegistry(store.blobs)
    with stage(stages, "train_and_gate"):
        trained = train_month_models(
            month, data, settings, studies_url(store), registry.champion(previous_month(month))
        )
        champion = choose_champion(settings.promotion_rule, trained.candidates)
    if champion is None:
        raise RuntimeError(f"no model promoted for {month}")
    with stage(stages, "register_models"):
        models = {family: registry.register(c.model)[0] for family, c in trained.candidates.items()}
        registry.append({"month": month, "champion": models[champion.family].version, "rule": settings.promotion_rule,
                         "candidates": [c.summary() for c in trained.candidates.values()]})  # fmt: skip
    with stage(stages, "model_charts"):
        charts = model_charts(champion.model.card, trained.validation_labels, champion.validation_raw,
                              champion.validation_calibrated)  # fmt: skip
        for name, png in charts.items():
            store.write_report_file("model", month, name, png)
    return models[champion.family], models[champion.family].version


def forecast(store: ArtifactStore, month: str, frame: Any, booster: Any, version: str, stages: Stages) -> str:
    """Score the month, store the forecast table and export the CSV; returns the export path."""
    with stage(stages, "score_with_reasons"):
        table = score(frame, booster, Cutoffs())
    with stage(stages, "write_forecasts"):
        store.write_table("forecasts", month, table)
        path = store.write_export(FORECASTS_EXPORT, month, table)
    with stage(stages, "audit_forecasts"):
        found = audit(table, frame[schema.ID_COLUMN])
    if not all(found.verdicts().values()):
        raise RuntimeError(f"{month}'s forecasts failed their audit: {found}")
    return str(path)


def run_month(store: ArtifactStore, month: str, model_config: dict[str, Any], stages: Stages) -> str:
    """The whole core path of one month; returns the forecast file."""
    frame = ingest(store, month, stages)
    booster, version = train(store, month, ModelSettings(**model_config), stages)
    return forecast(store, month, frame, booster, version, stages)
