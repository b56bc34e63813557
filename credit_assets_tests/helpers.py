"""Small real-format data and one-call materialisation for the tests."""

import shutil
from pathlib import Path

import dagster as dg

from credit_assets.definitions import STAGES
from credit_assets.generate import GeneratorConfig, generate_landing_files
from credit_assets.partitions import landing_file_name
from credit_assets.resources.storage import StorageResource

SMALL = GeneratorConfig(seed=11, history_rows=4_000, months=3, rows_per_month=1_500)
MONTHS = SMALL.month_keys  # history 2020-09, then 2020-10 .. 2020-12
INGEST = ["raw_applications", "validated_applications", "features"]
SCORE = [*INGEST, "model", "forecasts", "forecast_performance"]
# One LightGBM thread: OpenMP threads that spin for a busy core slow training tens of times.
FAST_MODEL = {"optuna_trials": 2, "max_boost_rounds": 200, "early_stopping_rounds": 20, "num_threads": 1}

ASSETS = dg.load_assets_from_modules(STAGES)
CHECKS = dg.load_asset_checks_from_modules(STAGES)


def write_small_landing(folder: Path, config: GeneratorConfig = SMALL) -> list[Path]:
    """Generate the small months into `folder` (the probability side files go beside it)."""
    return generate_landing_files(config, folder, folder.parent / "generator_truth")


def storage_with(root: Path, source_landing: Path, months: list[str]) -> StorageResource:
    """A fresh storage root whose landing folder holds copies of the given months' files."""
    storage = StorageResource(root=str(root))
    storage.landing_dir.mkdir(parents=True, exist_ok=True)
    for month in months:
        shutil.copy(source_landing / landing_file_name(month), storage.landing_dir / landing_file_name(month))
    return storage


def materialize_month(
    storage: StorageResource, month: str, selection: list[str] = INGEST, model_config: dict | None = None,
    instance: dg.DagsterInstance | None = None, op_configs: dict[str, dict] | None = None,
) -> dg.ExecuteInProcessResult:
    """Materialise the selected assets (and their checks) for one month with the real Dagster machinery."""
    if instance is None:  # a fresh instance per call: Dagster's load context must not outlive an earlier test's
        with dg.instance_for_test() as fresh:
            return materialize_month(storage, month, selection, model_config, fresh, op_configs)
    configs = dict(op_configs or {})
    if "model" in selection:
        configs["model"] = {**FAST_MODEL, **(model_config or {})}
    return dg.materialize(
        [*ASSETS, *CHECKS],
        selection=selection,
        partition_key=month,
        resources={"storage": storage},
        run_config={"ops": {op: {"config": config} for op, config in configs.items()}},
        instance=instance,
        raise_on_error=False,
    )


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    """All step failure messages of a run, joined."""
    return "\n".join(
        event.event_specific_data.error.message for event in result.all_events if event.event_type_value == "STEP_FAILURE"
    )


def failed_checks(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    return {e.check_name: e.description or "" for e in result.get_asset_check_evaluations() if not e.passed}


def copy_storage(template: Path, tmp_path: Path) -> StorageResource:
    """A private copy of a prepared storage root, so a test may change it freely."""
    shutil.copytree(template, tmp_path / "root")
    return StorageResource(root=str(tmp_path / "root"))
