"""The portal's audit trail: who did what, when, to which month and file, with what outcome; hash-chained."""

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from credit_assets.core.chained_log import ChainedLog


@dataclass(frozen=True)
class AuditEvent:
    user: str | None
    action: str  # login, logout, upload, download
    outcome: str  # ok, or what was refused and why in a few words
    month: str | None = None
    file: str | None = None
    file_sha256: str | None = None
    detail: str = ""
    client: str | None = None


class AuditLog:
    """Append-only: a line is never rewritten, and an edited line breaks the chain on the next read."""

    def __init__(self, path: Path) -> None:
        self.log = ChainedLog(path)

    def record(self, event: AuditEvent) -> dict[str, Any]:
        return self.log.append({**asdict(event), "at": datetime.now(UTC).isoformat(timespec="seconds")})

    def entries(self) -> list[dict[str, Any]]:
        return self.log.entries()
