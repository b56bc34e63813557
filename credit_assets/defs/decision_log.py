"""The decision log resource: the database the live decision service writes every decision to."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from credit_assets.core.databases import decision_log_url
from credit_assets.core.decisions.log import DecisionLog, LiveDecision, Underwriting


class DecisionLogResource(dg.ConfigurableResource):
    """The decision log: `url` when given, else the deployment's (database_url of the storage root:
    CREDIT_ASSETS_DECISION_DB_URL, else PostgreSQL from DAGSTER_PG_*, else SQLite under the root)."""

    storage_root: str = ""
    # Resolved when the log is opened, not when the definitions load: a PostgreSQL URL carries its password,
    # which must not show up in the resource's config in the UI.
    url: str = ""

    def resolved_url(self) -> str:
        return self.url or decision_log_url(self.storage_root)

    @contextmanager
    def opened(self) -> Iterator[DecisionLog]:
        """The log for the step's reads; its connections are closed afterwards (a run step is short-lived)."""
        log = DecisionLog(self.resolved_url())
        try:
            yield log
        finally:
            log.engine.dispose()

    def month(self, month: str) -> tuple[list[LiveDecision], dict[str, Underwriting]]:
        """The month's logged decisions in the order they were made, and the underwriters' decisions on them."""
        with self.opened() as log:
            decisions = log.month_decisions(month)
            return decisions, log.underwriting_of(d.decision_id for d in decisions)
