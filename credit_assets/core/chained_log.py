"""An append-only JSON-lines log whose every line carries its own hash and the hash of the line before it.

An edited, inserted or removed line is found on every read (all but the removal of the newest lines, which
only a copy kept elsewhere can show). Appends hold a file lock and are fsynced, so concurrent writers never
interleave and a crash never loses an acknowledged line.
"""

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

GENESIS = "0" * 64  # the "previous line" hash of the log's first entry


class ChainBroken(ValueError):
    """A log line that no longer matches its hash or its place: the log was edited."""


def entry_hash(entry: dict[str, Any]) -> str:
    """The hash of a log entry's content (everything but its own hash)."""
    content = {key: value for key, value in entry.items() if key != "sha256"}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


class ChainedLog:
    """One append-only log file; `entries()` checks the whole chain."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(f".{self.path.name}.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def append(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Append an entry (never rewriting the file): numbered and chained to the line before."""
        with self._locked():
            earlier = self.entries()
            chained = {
                **entry,
                "sequence": len(earlier) + 1,
                "previous_sha256": earlier[-1]["sha256"] if earlier else GENESIS,
            }
            chained["sha256"] = entry_hash(chained)
            with open(self.path, "a", encoding="utf-8") as log:
                log.write(json.dumps(chained, sort_keys=True) + "\n")
                log.flush()
                os.fsync(log.fileno())
        return chained

    def entries(self) -> list[dict[str, Any]]:
        """Every entry, oldest first, after checking each line's hash and its link to the one before."""
        if not self.path.exists():
            return []
        entries = [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines()]
        previous = GENESIS
        for number, entry in enumerate(entries, start=1):
            intact = entry.get("sha256") == entry_hash(entry)
            if not intact or entry.get("sequence") != number or entry.get("previous_sha256") != previous:
                raise ChainBroken(f"{self.path} line {number} breaks the chain: the log was edited.")
            previous = entry["sha256"]
        return entries
