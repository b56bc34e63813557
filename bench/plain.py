"""One month's core path as a plain script: the functions the assets call, without any Dagster machinery.

Same inputs and outputs as the Dagster core path (raw, validated and feature tables; the month's model decision,
made by the same `decide_month` as the model asset: change control, the candidates, the LDA search, the registry
and the same promotion log record; the forecast table and CSV export, all under the same storage layout), same GX
suite, same parameters. Frames stay in memory between stages instead of being read back. The work is the assets'
own, charts and forecast audit included; only what exists for Dagster is left out (asset metadata such as column
schemas and previews, the landing file's SHA-256, the event log, the asset checks).
Only `credit_assets.core` is imported: no Dagster context, instance or executor.
"""

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from credit_assets.core.contract import quality, schema
from credit_assets.core.contract.landing import parse_landing_csv
from credit_assets.core.contract.normalise import normalise
from credit_assets.core.features import build_features
from credit_assets.core.modeling.models import Model
from credit_assets.core.modeling.month_decision import RunInfo, decide_month
from credit_assets.core.modeling.settings import ModelSettings
from credit_assets.core.months import landing_file_name
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


def decide(store: ArtifactStore, month: str, settings: ModelSettings, stages: Stages) -> Model:
    """The month's model decision as the model asset makes it (keep the champion or develop, register, search for a
    less discriminatory alternative, append the promotion log's record); returns the model that scores the month."""
    run = RunInfo(f"plain-{uuid.uuid4().hex}", {}, [])
    with stage(stages, "decide_month"):
        decided = decide_month(store, month, settings, run)
    if decided.scoring is None:
        raise RuntimeError(f"no champion in force for {month}: {decided.plan.why}")
    return decided.scoring


def forecast(store: ArtifactStore, month: str, frame: Any, model: Model, stages: Stages) -> str:
    """Score the month, store the forecast table and export the CSV; returns the export path."""
    with stage(stages, "score_with_reasons"):
        table = score(frame, model, Cutoffs())
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
    model = decide(store, month, ModelSettings(**model_config), stages)
    return forecast(store, month, frame, model, stages)
