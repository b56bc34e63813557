"""Run notifications: always a JSON-lines log in the store, and a Slack-compatible webhook when configured."""

import json
import urllib.request
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from credit_assets.defs.storage import StorageResource

WEBHOOK_TIMEOUT_SECONDS = 10


class NotifierResource(dg.ConfigurableResource):
    """Where run notifications go; `webhook_url` empty means the log only."""

    storage: dg.ResourceDependency[StorageResource]
    webhook_url: str = ""

    def notify(self, event: dict[str, Any]) -> None:
        """Append the event to the log and post it to the webhook, if any."""
        record = {"at": datetime.now(UTC).isoformat(timespec="seconds"), **event}
        self.storage.store.append_notification(record)
        if self.webhook_url:
            self._post({"text": self._text(record), "credit_assets": record})

    @staticmethod
    def _text(record: dict[str, Any]) -> str:
        where = f" partition {record['partition']}" if record.get("partition") else ""
        detail = f": {record['error']}" if record.get("error") else ""
        failed = f" (failed steps: {', '.join(record['failed_steps'])})" if record.get("failed_steps") else ""
        return f"credit-assets {record['job']}{where} {record['status']}{failed}{detail} [run {record['run_id']}]"

    def _post(self, payload: dict[str, Any]) -> None:
        request = urllib.request.Request(
            self.webhook_url,
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
            response.read()
