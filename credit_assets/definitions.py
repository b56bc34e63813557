"""The Dagster definitions of credit-assets."""

import os

import dagster as dg

from credit_assets.assets import (
    data_profile,
    drift,
    fairness,
    features,
    forecast_performance,
    forecasts,
    model,
    model_comparison,
    raw_applications,
    validated_applications,
)
from credit_assets.checks.forecast_freshness import forecast_freshness_checks, forecast_freshness_sensor
from credit_assets.jobs import ingest_month, score_month
from credit_assets.resources.notifier import NotifierResource
from credit_assets.resources.storage import StorageResource, default_storage_root
from credit_assets.schedules.monthly_scoring import monthly_scoring
from credit_assets.sensors.landing_sensor import landing_sensor
from credit_assets.sensors.run_notifications import run_failure_notifier, run_success_notifier


def webhook_url() -> str:
    """A Slack-compatible webhook for run notifications (CREDIT_ASSETS_WEBHOOK_URL); empty keeps the log only."""
    return os.environ.get("CREDIT_ASSETS_WEBHOOK_URL", "")


storage = StorageResource(root=default_storage_root())
STAGES = [
    raw_applications,
    validated_applications,
    features,
    model,
    forecasts,
    forecast_performance,
    data_profile,
    drift,
    fairness,
    model_comparison,
]


def build_defs(executor: dg.ExecutorDefinition) -> dg.Definitions:
    """The project's definitions with the given default executor (the Celery profile: definitions_celery.py)."""
    return dg.Definitions(
        assets=dg.load_assets_from_modules(STAGES),
        asset_checks=[*dg.load_asset_checks_from_modules(STAGES), *forecast_freshness_checks],
        jobs=[ingest_month, score_month],
        schedules=[monthly_scoring],
        sensors=[landing_sensor, run_failure_notifier, run_success_notifier, forecast_freshness_sensor],
        executor=executor,
        resources={"storage": storage, "notifier": NotifierResource(storage=storage, webhook_url=webhook_url())},
    )


# steps share one process: a fresh process per step re-imports these definitions (about 5 s a step)
defs = build_defs(dg.in_process_executor)
