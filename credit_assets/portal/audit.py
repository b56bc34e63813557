"""The portal's audit trail: who did what, when, to which month and file, with what outcome.

Every line is sealed with an HMAC whose key lives in the portal's secrets folder, away from the storage root,
and the newest line's number and seal are anchored there too: whoever can write the log but not the secrets
can neither recompute an edited chain nor remove lines unnoticed. Every field is bounded and the log is
readable by its owner only; appends read the last line, never the whole log.
"""

import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from credit_assets.core.chained_log import ChainBroken, ChainedLog, FileLines, HeadAnchor
from credit_assets.portal.security import SlidingWindow, secret_key
from credit_assets.portal.users import NAME_PATTERN

FIELD_LIMIT = 200  # characters of a month, file name, address or outcome
DETAIL_LIMIT = 500
VERIFY_COMMAND = "credit-assets audit verify"


@dataclass(frozen=True)
class AuditEvent:
    user: str | None
    action: str  # login, logout, upload, download, summary, page, request
    outcome: str  # ok, or what was refused and why in a few words
    month: str | None = None
    file: str | None = None
    file_sha256: str | None = None
    detail: str = ""
    client: str | None = None


def bounded(value: str | None, limit: int = FIELD_LIMIT) -> str | None:
    """The value, or its first `limit` characters and its full length when it is longer."""
    if value is None or len(value) <= limit:
        return value
    return f"{value[:limit]}... ({len(value):,} characters)"


class AuditLogBroken(RuntimeError):
    """The audit log failed its check: nothing that must be audited may happen until it is repaired."""

    def __init__(self, broken: ChainBroken) -> None:
        self.broken = broken
        super().__init__(
            f"the audit log failed its check ({broken}); run `{VERIFY_COMMAND}` on the portal's host, keep the "
            "damaged log for investigation and start a new one with `credit-assets audit archive`"
        )


class AuditLog:
    """Append-only and sealed; a failed check is remembered until the log changes again (repaired or archived)."""

    def __init__(self, path: Path, secrets_dir: Path) -> None:
        self.path = path
        key, anchor = secret_key(secrets_dir / "audit_hmac.key"), HeadAnchor(secrets_dir / "audit_head.json")
        self.log = ChainedLog(FileLines(path, 0o600), key, anchor)
        self._broken: tuple[object, AuditLogBroken] | None = None  # (the files' state when found, the error)

    def record(self, event: AuditEvent) -> dict[str, Any]:
        """Append the event with every field bounded; AuditLogBroken when the log failed its check."""
        self._refuse_if_still_broken()
        if event.user is not None and not NAME_PATTERN.fullmatch(event.user):  # never a password typed as a name
            event = replace(event, user=None, detail=f"user name withheld ({len(event.user):,} characters)")
        fields = {name: bounded(value) for name, value in asdict(event).items() if name != "detail"}
        entry = {**fields, "detail": bounded(event.detail, DETAIL_LIMIT)}
        try:
            return self.log.append({**entry, "at": datetime.now(UTC).isoformat(timespec="seconds")})
        except ChainBroken as broken:
            raise self._found_broken(broken) from broken

    def verify(self) -> int:
        """Check every line and the anchor; the number of entries, or AuditLogBroken naming the first bad line."""
        count = len(self.entries())
        self._broken = None
        return count

    def entries(self) -> list[dict[str, Any]]:
        try:
            return self.log.entries()
        except ChainBroken as broken:
            raise self._found_broken(broken) from broken

    def problem(self) -> str | None:
        """Why the log cannot be written to, or None (cheap: checks the newest line, or re-checks after a change)."""
        try:
            self._refuse_if_still_broken()
            self.log.head()
        except AuditLogBroken as broken:
            return str(broken)
        except ChainBroken as broken:
            return str(self._found_broken(broken))
        return None

    def archive(self) -> Path | None:
        """Move the log aside (kept for investigation) so a new chain starts; its first line names the old file."""
        if not self.path.exists():
            return None
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        kept = self.path.with_name(f"{self.path.stem}.archived-{stamp}.jsonl")
        os.replace(self.path, kept)
        self.log.anchor.path.unlink(missing_ok=True)
        self._broken = None
        self.record(AuditEvent(None, "audit", "archived", file=kept.name, detail="a new chain starts here"))
        return kept

    def _state(self) -> object:
        files = (self.path, self.log.anchor.path)
        return tuple((p.stat().st_size, p.stat().st_mtime_ns, p.stat().st_ino) if p.exists() else None for p in files)

    def _found_broken(self, broken: ChainBroken) -> AuditLogBroken:
        error = AuditLogBroken(broken)
        self._broken = (self._state(), error)
        return error

    def _refuse_if_still_broken(self) -> None:
        """A log found broken stays refused until its files change; then it is checked again, whole."""
        if self._broken is None:
            return
        state, error = self._broken
        if state == self._state():
            raise error
        self.verify()


class RefusalLimiter:
    """At most `per_client` audited refusals per client address and `window_seconds`; the rest are counted and the
    count rides on that address's next audited entry, so an anonymous flood costs the log a few lines a minute.

    Remembers at most `max_clients` addresses (the least recently refused are forgotten first)."""

    def __init__(
        self, clock: Callable[[], float], per_client: int = 10, window_seconds: float = 60, max_clients: int = 10_000
    ) -> None:
        self.clock, self.per_client, self.max_clients = clock, per_client, max_clients
        self._recorded = SlidingWindow(window_seconds, max_clients)
        self._dropped: OrderedDict[str, int] = OrderedDict()

    def admit(self, event: AuditEvent) -> AuditEvent | None:
        """The event to record (carrying the count of refusals not recorded before it), or None to drop it."""
        key, now = event.client or "(unknown)", self.clock()
        recorded = self._recorded.moments(key, now)
        if len(recorded) >= self.per_client:
            self._dropped[key] = self._dropped.pop(key, 0) + 1
            while len(self._dropped) > self.max_clients:
                self._dropped.popitem(last=False)
            return None
        recorded.append(now)
        dropped = self._dropped.pop(key, 0)
        if dropped:
            note = f"{dropped} similar refusal(s) not logged one by one"
            event = replace(event, detail="; ".join(filter(None, [event.detail, note])))
        return event
