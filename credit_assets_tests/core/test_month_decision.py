"""One month pipeline: the plain baseline (bench/plain.py, core only) makes the month the Dagster assets make, with
the same tables, models, forecasts and promotion log record."""

from pathlib import Path

from bench import plain
from credit_assets.core.modeling.registry import ModelRegistry
from credit_assets.core.store import FORECASTS_EXPORT, ArtifactStore
from credit_assets_tests.support.materialise import FAST_MODEL, MONTHS, SCORED_MONTH, storage_with

TABLES = ("raw_applications", "validated_applications", "features")
# what only the run that decided can say: who and what started it, when, and where the entry sits in the chain
RUN_FIELDS = {"trigger", "decided_at", "requested_by", "sequence", "sha256", "previous_sha256"}


def _record(store: ArtifactStore, month: str) -> dict:
    decision = ModelRegistry(store.blobs).decision(month)
    assert decision is not None
    return {key: value for key, value in decision.entry.items() if key not in RUN_FIELDS}


def test_the_plain_baseline_makes_the_month_the_assets_make(
    scored_month_root: Path, small_landing: Path, tmp_path: Path
) -> None:
    assets = ArtifactStore.at(scored_month_root)
    baseline = storage_with(tmp_path / "plain", small_landing, MONTHS[:2]).store
    stages: plain.Stages = []
    plain.ingest(baseline, MONTHS[0], stages)  # the history month: ingested, never scored
    plain.run_month(baseline, SCORED_MONTH, FAST_MODEL, stages)

    for month in MONTHS[:2]:
        for table in TABLES:
            assert baseline.blobs.get(f"tables/{table}/{month}.parquet") == assets.blobs.get(
                f"tables/{table}/{month}.parquet"
            ), (table, month)
    models = sorted(assets.blobs.keys("registry/models/"))
    assert models and sorted(baseline.blobs.keys("registry/models/")) == models
    assert all(baseline.blobs.get(key) == assets.blobs.get(key) for key in models)
    assert _record(baseline, SCORED_MONTH) == _record(assets, SCORED_MONTH)  # the same decision, candidates, search
    assert baseline.read_export(FORECASTS_EXPORT, SCORED_MONTH) == assets.read_export(FORECASTS_EXPORT, SCORED_MONTH)
    assert {stage["stage"] for stage in stages} >= {"decide_month", "score_with_reasons", "write_forecasts"}
