"""The code location loads, reads like the lineage graph and passes `dg check defs`."""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import dagster as dg
import pytest

from credit_assets.core.modeling.settings import ModelSettings
from credit_assets.core.months import FIRST_MONTH
from credit_assets.definitions import defs
from credit_assets.defs.assets.model import MODEL_DEFAULTS_SETTING, ModelConfig
from credit_assets.defs.config import deployment_defaults
from credit_assets.defs.jobs import job_for_month
from credit_assets_tests import TEST_DEPLOYMENT_MODEL

PROJECT = Path(__file__).resolve().parents[2]
LINEAGE = [
    ("raw_applications", "validated_applications"),
    ("validated_applications", "features"),
    ("features", "model"),
    ("model", "forecasts"),
    ("features", "forecasts"),
    ("forecasts", "forecast_performance"),
]


def test_definitions_load_with_the_whole_lineage() -> None:
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    for upstream, downstream in LINEAGE:
        assert dg.AssetKey(upstream) in graph.get(dg.AssetKey(downstream)).parent_keys


def test_validated_applications_carries_the_blocking_contract_checks() -> None:
    specs = defs.resolve_assets_def("validated_applications").check_specs
    assert {spec.name for spec in specs} >= {"columns_match_contract", "ids_not_seen_before", "values_within_bounds"}
    assert all(spec.blocking for spec in specs)


def test_landing_sensor_runs_by_default_and_targets_both_jobs() -> None:
    sensor = defs.resolve_sensor_def("landing_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert {job.name for job in sensor.jobs} == {"ingest_month", "score_month"}
    assert job_for_month(FIRST_MONTH) == "ingest_month"
    assert job_for_month("2021-01") == "score_month"


def test_dg_check_defs_passes() -> None:
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "VIRTUAL_ENV": str(bin_dir.parent), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        [str(bin_dir / "dg"), "check", "defs"], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr


def test_dg_names_the_code_location_as_dagster_registers_it() -> None:
    """Else every definitions load (code server, each run worker) warns that the names differ, ~30 times a run."""
    config = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["tool"]
    assert config["dg"]["project"]["code_location_name"] == config["dagster"]["code_location_name"]


def test_the_deployment_sets_the_model_steps_defaults_for_runs_whose_config_names_none() -> None:
    defaults = ModelConfig().model_dump()  # the suite's deployment (credit_assets_tests/__init__.py) sets some
    assert {key: defaults[key] for key in TEST_DEPLOYMENT_MODEL} == TEST_DEPLOYMENT_MODEL
    unset = set(defaults) - set(TEST_DEPLOYMENT_MODEL)
    assert unset and all(defaults[key] == getattr(ModelSettings, key) for key in unset)  # the rest are the platform's


@pytest.mark.parametrize(
    ("value", "refusal"),
    [
        ('{"optuna_trails": 2}', "names no ModelSettings field: optuna_trails"),
        ('{"approval": "nobody"}', "approval 'nobody' is not one of"),
        ("approval=none", "is not JSON"),
        ('["approval"]', "must be a JSON object"),
    ],
)
def test_a_mistyped_deployment_default_stops_the_definitions_loading(
    monkeypatch: pytest.MonkeyPatch, value: str, refusal: str
) -> None:
    monkeypatch.setenv(MODEL_DEFAULTS_SETTING, value)
    with pytest.raises(ValueError, match=refusal) as raised:
        deployment_defaults(ModelSettings, MODEL_DEFAULTS_SETTING)
    assert MODEL_DEFAULTS_SETTING in str(raised.value)  # the message names what to fix
