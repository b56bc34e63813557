"""The Celery app of the distributed profile's workers: `celery -A credit_assets.celery_worker worker -n NAME@%h`.

It is dagster-celery's app (the same tasks and queue) with the executor's settings, taken from the environment only.
dagster-celery's own `worker start` wrapper writes the broker URL, password included, into a new world-readable
file under $DAGSTER_HOME/dagster_celery/config/ at every start and never removes it, and it runs `celery` as a
child that keeps running when a service manager stops the wrapper; started this way, nothing is written and
`celery` is the process that gets SIGTERM (a warm shutdown: the running step finishes).
"""

from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_execute_job_task, create_resume_job_task, create_task

from credit_assets.celery_settings import CELERY_SETTINGS, broker_url

app = make_app()
app.conf.update(
    broker_url=broker_url(),
    result_backend=broker_url(),
    worker_prefetch_multiplier=1,
    # a step's stdout and stderr stay the process's own, so Dagster's compute log manager captures them (for the
    # UI's step logs) instead of Celery's logger taking them into the worker's log
    worker_redirect_stdouts=False,
    **CELERY_SETTINGS,
)
execute_plan = create_task(app)
execute_job = create_execute_job_task(app)
resume_job = create_resume_job_task(app)
