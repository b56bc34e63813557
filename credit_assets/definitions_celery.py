"""The distributed profile's code location: the project's definitions with every step sent to Celery workers.

Load it instead of `credit_assets.definitions` (deploy/celery/workspace.yaml, or `-m credit_assets.definitions_celery`).
The run's orchestrating process only submits steps to the broker; Celery workers running `credit_assets.celery_worker`
execute them against the Dagster instance and the shared storage. See docs/DEPLOYMENT.md.
"""

from dagster_celery import celery_executor

from credit_assets.celery_settings import celery_config
from credit_assets.definitions import build_defs

defs = build_defs(celery_executor.configured(celery_config(), name="celery"))
