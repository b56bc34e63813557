"""The resources every definition shares: one storage root, the decision log and the run notifier."""

import os

import dagster as dg

from credit_assets.core.store import default_root
from credit_assets.defs.decision_log import DecisionLogResource
from credit_assets.defs.notifier import NotifierResource
from credit_assets.defs.storage import StorageResource


def webhook_url() -> str:
    """A Slack-compatible webhook for run notifications (CREDIT_ASSETS_WEBHOOK_URL); empty keeps the log only."""
    return os.environ.get("CREDIT_ASSETS_WEBHOOK_URL", "")


@dg.definitions
def resources() -> dg.Definitions:
    storage = StorageResource(root=default_root())
    return dg.Definitions(
        resources={
            "storage": storage,
            "decision_log": DecisionLogResource(storage_root=storage.root),
            "notifier": NotifierResource(storage=storage, webhook_url=webhook_url()),
        }
    )
