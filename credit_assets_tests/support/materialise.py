"""Small real-format data, one-call materialisation and prepared storage roots for the tests."""

import shutil
from pathlib import Path

import dagster as dg

from credit_assets.core.months import landing_file_name
from credit_assets.definitions import defs
from credit_assets.defs.decision_log import DecisionLogResource
from credit_assets.defs.forecast_freshness import forecast_freshness_checks
from credit_assets.defs.storage import StorageResource
from credit_assets.synthetic.generate import GeneratorConfig, generate_landing_files
from credit_assets_tests import TEST_DEPLOYMENT_MODEL

SMALL = GeneratorConfig(seed=11, history_rows=4_000, months=3, rows_per_month=1_500)
MONTHS = SMALL.month_keys  # history 2020-09, then 2020-10 .. 2020-12
SCORED_MONTH = MONTHS[1]  # the month conftest's shared `scored_month_root` has scored
INGEST = ["raw_applications", "validated_applications", "features"]
SCORE = [*INGEST, "model", "forecasts", "forecast_performance"]
# The test deployment's model settings, where every run develops: most tests judge one month's models, and its
# champion takes effect unapproved, as before change control (the champion_approved check warns);
# tests/defs/test_model_risk.py runs the platform's cadence and approvals.
FAST_MODEL = {**TEST_DEPLOYMENT_MODEL, "review_every_months": 0}

# the defs folder's modules import each other's definitions, so the same objects appear more than once
ASSETS = list({id(asset): asset for asset in defs.assets or []}.values())
EVERY_ASSET = sorted(key.to_user_string() for asset in ASSETS for key in asset.keys)
# model_comparison's shadow models, small: the tests that run every asset judge its wiring, not its figures
QUICK_COMPARISON = {"model_comparison": {"max_train_rows": 1_000, "num_threads": 1, "forest_trees": 10}}
# freshness is judged against the clock by its own sensor, never inside a month's run
CHECKS = [c for c in {id(c): c for c in defs.asset_checks or []}.values() if c not in forecast_freshness_checks]


def write_small_landing(folder: Path, config: GeneratorConfig = SMALL) -> list[Path]:
    """Generate the small months into `folder` (the probability side files go beside it)."""
    return generate_landing_files(config, folder, folder.parent / "generator_truth")


def storage_with(root: Path | str, source_landing: Path, months: list[str]) -> StorageResource:
    """A fresh storage root (a folder or an object-store URL) whose landing area holds the given months' files."""
    storage = StorageResource(root=str(root))
    for month in months:
        name = landing_file_name(month)
        storage.store.land(name, (source_landing / name).read_bytes())
    return storage


def decision_log_of(storage: StorageResource) -> DecisionLogResource:
    """The local storage root's own SQLite decision log, whatever the environment names for the deployment."""
    return DecisionLogResource(url=f"sqlite:///{storage.store.local_root / 'decisions' / 'decision_log.sqlite'}")


def materialize_month(
    storage: StorageResource,
    month: str,
    selection: list[str] = INGEST,
    model_config: dict | None = None,
    instance: dg.DagsterInstance | None = None,
    op_configs: dict[str, dict] | None = None,
    log_url: str = "",
) -> dg.ExecuteInProcessResult:
    """Materialise the selected assets (and their checks) for one month with the real Dagster machinery; the
    decision log is the storage root's own SQLite one unless `log_url` names another database."""
    if instance is None:  # a fresh instance per call: Dagster's load context must not outlive an earlier test's
        with dg.instance_for_test() as fresh:
            return materialize_month(storage, month, selection, model_config, fresh, op_configs, log_url)
    configs = dict(op_configs or {})
    if "model" in selection:
        configs["model"] = {**FAST_MODEL, **(model_config or {})}
    return dg.materialize(
        [*ASSETS, *CHECKS],
        selection=selection,
        partition_key=month,
        resources={
            "storage": storage,
            "decision_log": DecisionLogResource(url=log_url) if log_url else decision_log_of(storage),
        },
        run_config={"ops": {op: {"config": config} for op, config in configs.items()}},
        instance=instance,
        raise_on_error=False,
    )


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    """All step failure messages of a run, joined."""
    return "\n".join(
        event.event_specific_data.error.message
        for event in result.all_events
        if event.event_type_value == "STEP_FAILURE"
    )


def failed_checks(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    return {e.check_name: e.description or "" for e in result.get_asset_check_evaluations() if not e.passed}


def copy_storage(template: Path, tmp_path: Path) -> StorageResource:
    """A private copy of a prepared storage root, so a test may change it freely."""
    shutil.copytree(template, tmp_path / "root")
    return StorageResource(root=str(tmp_path / "root"))


def scored_root(
    root: Path, landing: Path, months: list[str], scored: list[str], model_config: dict | None = None
) -> Path:
    """A storage root under `root` with `months` ingested and the `scored` ones given a model and forecasts."""
    storage = storage_with(root, landing, months)
    for month in months:
        result = materialize_month(storage, month, INGEST)
        assert result.success, failure_message(result)
    for month in scored:
        result = materialize_month(storage, month, ["model", "forecasts"], model_config=model_config)
        assert result.success, failure_message(result)
    return root
