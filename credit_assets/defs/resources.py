"""The resources every definition shares: one storage root and the run notifier."""

import os

import dagster as dg

from credit_assets.core.store import default_root
from credit_assets.defs.notifier import NotifierResource
from credit_assets.defs.storage import StorageResource


def webhook_url() -> str:
    """A Slack-compatible webhook for run notifications (CREDIT_ASSETS_WEBHOOK_URL); empty keeps the log only."""
    return os.environ.get("CREDIT_ASSETS_WEBHOOK_URL", "")


@dg.definitions
def resources() -> dg.Definitions:
    storage = StorageResource(root=default_root())
    return dg.Definitions(
        resources={"storage": storage, "notifier": NotifierResource(storage=storage, webhook_url=webhook_url())}
    )
