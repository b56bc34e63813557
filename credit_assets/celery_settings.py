"""The distributed profile's Celery settings, shared by the executor (definitions_celery.py) and the workers'
app (celery_worker.py), read from the environment only."""

import os

BROKER_ENV = "CREDIT_ASSETS_CELERY_BROKER"
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
# Celery app settings shared by the executor (config_source) and the workers.
CELERY_SETTINGS = {
    # A worker fetches a step only when it has a free process: a busy worker holds no step back from an idle one
    # (Redis broker only; Celery >= 5.6).
    "worker_disable_prefetch": True,
    # A step is acknowledged when it ends, not when it starts: when the process running it dies (killed, out of
    # memory) the step goes back to the queue and runs again instead of failing the run. A whole worker lost with
    # its steps is redelivered after the broker's visibility timeout (Redis: one hour, longer than any step).
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
}


def broker_url() -> str:
    """The Celery broker, also the result backend (CREDIT_ASSETS_CELERY_BROKER, default a local Redis)."""
    return os.environ.get(BROKER_ENV, DEFAULT_BROKER)


def celery_config() -> dict:
    """The Celery executor's config: broker and result backend on the same Redis, the shared app settings."""
    return {"broker": broker_url(), "backend": broker_url(), "config_source": CELERY_SETTINGS}
