"""An append-only JSON-lines log whose every line carries a seal of its content and the seal of the line before it.

Unkeyed, the seal is a SHA-256 hash: an edited, inserted or removed line is found, but whoever can write the file
can also recompute the chain. Keyed, the seal is an HMAC-SHA-256 with a key kept away from the log, so a chain
cannot be recomputed without it; and a head anchor kept beside the key remembers the newest line's number and
seal, so lines removed from the end, or from the middle with the rest re-sealed, are found too.

Where the lines live is the log's medium. `FileLines`, one local JSON-lines file: appends hold a file lock, read
the last line only and are fsynced, so concurrent writers never interleave, a crash never loses an acknowledged
line, and an append costs the same on a large log. `ObjectLines`, for object storage, which has neither appends
nor locks that hold across hosts: each line is an object named by its sequence number and created only if absent
(a conditional write), so of two writers appending the same number one wins and the other re-reads and retries.
"""

import fcntl
import hashlib
import hmac
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from credit_assets.core.blobs import Blobs, LocalBlobs, atomic_write

GENESIS = "0" * 64  # the "previous line" seal of the log's first entry
TAIL_BLOCK = 1 << 16
APPEND_ATTEMPTS = 20  # appends lost to another writer of the same sequence number before giving up


class ChainBroken(ValueError):
    """A log line that no longer matches its seal, its place or the anchored head: the log was edited."""

    def __init__(self, where: str, line: int | None, problem: str) -> None:
        self.where, self.line, self.problem = where, line, problem
        at = f" line {line}" if line is not None else ""
        super().__init__(f"{where}{at} breaks the chain: {problem}")


class LostRace(RuntimeError):
    """Another writer appended the same sequence number first."""


@dataclass(frozen=True)
class Head:
    """The newest line of a log: its number and its seal."""

    sequence: int
    seal: str


class HeadAnchor:
    """The head of a log, remembered in a small JSON file away from the log (replaced atomically, owner-only)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> Head | None:
        if not self.path.exists():
            return None
        data = json.loads(self.path.read_text())
        return Head(int(data["sequence"]), str(data["seal"]))

    def write(self, head: Head) -> None:
        payload = json.dumps({"sequence": head.sequence, "seal": head.seal})
        atomic_write(self.path, lambda tmp: tmp.write_text(payload), mode=0o600)


class FileLines:
    """The log as one local JSON-lines file; appends hold an exclusive file lock (one host's writers)."""

    def __init__(self, path: Path, file_mode: int = 0o644) -> None:
        self.path, self.file_mode = path, file_mode
        self.where = str(path)

    @contextmanager
    def locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(f".{self.path.name}.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def add(self, sequence: int, line: str) -> None:
        """Append the line (the caller holds the lock, so `sequence` is the next one)."""
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, self.file_mode)
        with os.fdopen(descriptor, "a", encoding="utf-8") as log:
            os.fchmod(log.fileno(), self.file_mode)  # also tightens a log made by an older version
            log.write(line + "\n")
            log.flush()
            os.fsync(log.fileno())

    def state(self) -> object:
        """Changes whenever a line is appended."""
        return (self.path.stat().st_size, self.path.stat().st_mtime_ns) if self.path.exists() else None

    def read(self) -> Iterator[str]:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as log:
            yield from log

    def last(self) -> str | None:
        """The text of the last line, read from the end of the file."""
        if not self.path.exists():
            return None
        with open(self.path, "rb") as log:
            end = log.seek(0, os.SEEK_END)
            tail, position = b"", end
            while position > 0 and tail.rstrip(b"\n").count(b"\n") == 0:
                step = min(TAIL_BLOCK, position)
                position -= step
                log.seek(position)
                tail = log.read(step) + tail
        lines = tail.rstrip(b"\n").split(b"\n")
        if not lines[-1]:
            return None
        return lines[-1].decode("utf-8", errors="replace")


class ObjectLines:
    """The log as one object per line under a prefix, each named by its sequence number and created only if absent."""

    def __init__(self, blobs: Blobs, prefix: str) -> None:
        self.blobs, self.prefix = blobs, prefix.rstrip("/")
        self.where = blobs.location(self.prefix)

    @contextmanager
    def locked(self) -> Iterator[None]:
        yield  # nothing to hold: the conditional write of `add` decides between writers

    def add(self, sequence: int, line: str) -> None:
        if not self.blobs.create(f"{self.prefix}/{sequence:010d}.json", line.encode("utf-8")):
            raise LostRace(f"{self.where}: line {sequence} was written by another writer first")

    def _keys(self) -> list[str]:
        return [key for key in self.blobs.keys(f"{self.prefix}/") if key.endswith(".json")]

    def state(self) -> object:
        """Changes whenever a line is appended: the newest line's name."""
        keys = self._keys()
        return keys[-1] if keys else None

    def read(self) -> Iterator[str]:
        for key in self._keys():
            yield self.blobs.get(key).decode("utf-8")

    def last(self) -> str | None:
        keys = self._keys()
        return self.blobs.get(keys[-1]).decode("utf-8") if keys else None


LogLines = FileLines | ObjectLines


def lines_at(blobs: Blobs, key: str) -> LogLines:
    """The medium for a log stored under `key`: its JSON-lines file on a local store, else one object per line."""
    if isinstance(blobs, LocalBlobs):
        return FileLines(blobs.path(key))
    return ObjectLines(blobs, f"{key}.d")


class ChainedLog:
    """One append-only log; `entries()` checks the whole chain, `append()` the newest line and the anchor."""

    def __init__(self, lines: LogLines, key: bytes | None = None, anchor: HeadAnchor | None = None) -> None:
        self.lines, self.key, self.anchor = lines, key, anchor
        self.where = lines.where
        self.seal_field = "hmac_sha256" if key else "sha256"
        self.previous_field = f"previous_{self.seal_field}"

    def seal(self, entry: dict[str, Any]) -> str:
        """The seal of an entry's content (everything but its own seal)."""
        content = json.dumps({k: v for k, v in entry.items() if k != self.seal_field}, sort_keys=True).encode()
        if self.key is None:
            return hashlib.sha256(content).hexdigest()
        return hmac.new(self.key, content, hashlib.sha256).hexdigest()

    def append(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Append an entry (never rewriting the log): numbered and chained to the line before."""
        return self.append_checked(lambda entries: entry, read_all=False)

    def append_checked(
        self, make: Callable[[list[dict[str, Any]]], dict[str, Any]], read_all: bool = True
    ) -> dict[str, Any]:
        """Append the entry `make` builds from every entry so far (it raises to refuse), with no other append between
        the check and the write: under the file lock, or by a conditional write retried on the entries as they then
        are."""
        for _ in range(APPEND_ATTEMPTS):
            with self.lines.locked():
                entries = self.entries() if read_all else []
                try:
                    return self._append_after(self._head(entries) if read_all else self.head(), make(entries))
                except LostRace:
                    continue
        raise ChainBroken(self.where, None, f"{APPEND_ATTEMPTS} appends in a row lost to other writers")

    def _head(self, entries: list[dict[str, Any]]) -> Head | None:
        return Head(entries[-1]["sequence"], entries[-1][self.seal_field]) if entries else None

    def _append_after(self, head: Head | None, entry: dict[str, Any]) -> dict[str, Any]:
        chained = {
            **entry,
            "sequence": head.sequence + 1 if head else 1,
            self.previous_field: head.seal if head else GENESIS,
        }
        chained[self.seal_field] = self.seal(chained)
        self.lines.add(chained["sequence"], json.dumps(chained, sort_keys=True))
        if self.anchor:
            self.anchor.write(Head(chained["sequence"], chained[self.seal_field]))
        return chained

    def head(self) -> Head | None:
        """The newest line's number and seal after checking that line's seal and, when anchored, the anchor."""
        last = self.lines.last()
        newest = self._checked(last, None) if last else None
        head = Head(newest["sequence"], newest[self.seal_field]) if newest else None
        self._check_anchor(head, newest)
        return head

    def entries(self) -> list[dict[str, Any]]:
        """Every entry, oldest first, after checking each line's seal, its link to the one before and the anchor."""
        entries, previous = [], GENESIS
        for number, line in enumerate(self.lines.read(), start=1):
            entry = self._checked(line, number)
            if entry["sequence"] != number or entry[self.previous_field] != previous:
                raise ChainBroken(self.where, number, "a line before it was removed, added or re-sealed")
            previous = entry[self.seal_field]
            entries.append(entry)
        newest = entries[-1] if entries else None
        self._check_anchor(Head(newest["sequence"], previous) if newest else None, newest)
        return entries

    def _checked(self, line: str, number: int | None) -> dict[str, Any]:
        """The line's entry once its seal matches; `number` is None for the newest line read from the end."""
        which = "the line" if number else "the newest line"
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            raise ChainBroken(self.where, number, f"{which} is not a JSON entry") from None
        if not isinstance(entry, dict) or not hmac.compare_digest(str(entry.get(self.seal_field)), self.seal(entry)):
            raise ChainBroken(self.where, number, f"{which}'s content no longer matches its seal")
        if not isinstance(entry.get("sequence"), int):
            raise ChainBroken(self.where, number, f"{which} has no sequence number")
        return entry

    def _check_anchor(self, head: Head | None, newest: dict[str, Any] | None) -> None:
        """The log's newest line must be the anchored head (or the line after it, when a crash came between the
        append and the anchor's update)."""
        if self.anchor is None:
            return
        anchored = self.anchor.read()
        if anchored == head:
            return
        if anchored is None:
            raise ChainBroken(self.where, None, "the log has lines but its head anchor is missing")
        if head is None:
            raise ChainBroken(
                self.where, None, f"the log is empty or missing but {anchored.sequence} line(s) were written"
            )
        if head.sequence == anchored.sequence + 1 and newest and newest[self.previous_field] == anchored.seal:
            return
        raise ChainBroken(
            self.where,
            head.sequence,
            f"the newest line is number {head.sequence}, but line {anchored.sequence} was the last one written "
            "(lines were removed or replaced)",
        )
