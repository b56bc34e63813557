"""The distributed profile's code location: the project's definitions with every step sent to Celery workers.

Load it instead of `credit_assets.definitions` (deploy/celery/workspace.yaml, or `-m credit_assets.definitions_celery`).
The run's orchestrating process only submits steps to the broker; `dagster-celery worker` processes (started with
deploy/celery/celery.yaml) execute them against the Dagster instance and the shared storage root. See
docs/DEPLOYMENT.md.
"""

import os

from dagster_celery import celery_executor

from credit_assets.definitions import build_defs

BROKER_ENV = "CREDIT_ASSETS_CELERY_BROKER"
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
# Celery app settings (config_source), the same in deploy/celery/celery.yaml, which the workers read.
CELERY_SETTINGS = {
    # A worker fetches a step only when it has a free process: a busy worker holds no step back from an idle one
    # (Redis broker only; Celery >= 5.6).
    "worker_disable_prefetch": True,
}


def broker_url() -> str:
    """The Celery broker, also the result backend (CREDIT_ASSETS_CELERY_BROKER, default a local Redis)."""
    return os.environ.get(BROKER_ENV, DEFAULT_BROKER)


def celery_config() -> dict:
    """The Celery executor's config: broker and result backend on the same Redis, the shared app settings."""
    return {"broker": broker_url(), "backend": broker_url(), "config_source": CELERY_SETTINGS}


defs = build_defs(celery_executor.configured(celery_config(), name="celery"))
