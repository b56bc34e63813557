"""The databases beside the store: the deployment's PostgreSQL when it runs one, else SQLite files on a local store.

Object storage holds files, not databases: a deployment on it names a PostgreSQL (DAGSTER_PG_*) that every host
reaches, and the decision log and the tuning studies live there, each out of the way of Dagster's own tables.
"""

import os
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL

from credit_assets.core.store import ArtifactStore

DECISION_DB_ENV = "CREDIT_ASSETS_DECISION_DB_URL"
# Optuna keeps its own alembic_version table, as Dagster does: its tables go to a schema of their own
STUDIES_SCHEMA = "credit_assets_optuna"


class NoSharedDatabase(RuntimeError):
    """Object storage without a database every host reaches: there is nowhere to keep a database."""


def deployment_postgres() -> URL | None:
    """The deployment's PostgreSQL from the DAGSTER_PG_* settings Dagster's own storage reads, if it runs one."""
    if not os.environ.get("DAGSTER_PG_HOST"):
        return None
    return URL.create(
        "postgresql+psycopg2",
        username=os.environ.get("DAGSTER_PG_USERNAME"),
        password=os.environ.get("DAGSTER_PG_PASSWORD"),
        host=os.environ["DAGSTER_PG_HOST"],
        port=int(os.environ.get("DAGSTER_PG_PORT", "5432")),
        database=os.environ.get("DAGSTER_PG_DB"),
    )


def _local_sqlite(store: ArtifactStore, relative: str, what: str) -> str:
    if store.local_root is None:
        raise NoSharedDatabase(
            f"The {what} needs a database every host reaches when the store is object storage "
            f"({store.location('')}): set DAGSTER_PG_HOST, DAGSTER_PG_USERNAME, DAGSTER_PG_PASSWORD and DAGSTER_PG_DB."
        )
    path = store.local_root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path.resolve()}"


def decision_log_url(root: str | Path) -> str:
    """CREDIT_ASSETS_DECISION_DB_URL; else the deployment's PostgreSQL; else SQLite on the local store."""
    if os.environ.get(DECISION_DB_ENV):
        return os.environ[DECISION_DB_ENV]
    postgres = deployment_postgres()
    if postgres is not None:
        return postgres.render_as_string(hide_password=False)
    return _local_sqlite(ArtifactStore.at(root), "decisions/decision_log.sqlite", "decision log")


def studies_url(store: ArtifactStore) -> str:
    """Where the tuning studies live: a schema of the deployment's PostgreSQL, else SQLite on the local store."""
    postgres = deployment_postgres()
    if postgres is None:
        return _local_sqlite(store, "optuna/studies.db", "tuning studies' storage")
    engine = sa.create_engine(postgres)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {STUDIES_SCHEMA}"))
    finally:
        engine.dispose()
    return postgres.update_query_dict({"options": f"-csearch_path={STUDIES_SCHEMA}"}).render_as_string(
        hide_password=False
    )
