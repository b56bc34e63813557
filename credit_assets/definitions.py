"""The Dagster definitions of credit-assets."""

import os
from pathlib import Path

import dagster as dg

from credit_assets.assets import (
    features,
    forecast_performance,
    forecasts,
    model,
    raw_applications,
    validated_applications,
)
from credit_assets.jobs import ingest_month, score_month
from credit_assets.resources.storage import StorageResource
from credit_assets.sensors.landing_sensor import landing_sensor

DEFAULT_STORAGE_ROOT = Path(__file__).resolve().parents[1] / "data"


def storage_root() -> str:
    """The storage root: CREDIT_ASSETS_STORAGE_ROOT when set, else `data/` beside the package."""
    return os.environ.get("CREDIT_ASSETS_STORAGE_ROOT", str(DEFAULT_STORAGE_ROOT))


STAGES = [raw_applications, validated_applications, features, model, forecasts, forecast_performance]

defs = dg.Definitions(
    assets=dg.load_assets_from_modules(STAGES),
    asset_checks=dg.load_asset_checks_from_modules(STAGES),
    jobs=[ingest_month, score_month],
    sensors=[landing_sensor],
    resources={"storage": StorageResource(root=storage_root())},
)
