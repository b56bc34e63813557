"""Server-side portal sessions: a logout, a new password or an administrator ends a session at once.

They live in a SQLite file beside the users file in the portal's folder (owner-only): the users and their
sessions move together, the command line reaches them without a running portal (`add-user --replace`,
`sessions revoke`), and SQLite's transactions serialise the portal's threads and those commands. The browser's
cookie carries a random session ID; the file keeps only its SHA-256, so a copy of the file opens no session.
"""

import hashlib
import os
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = "CREATE TABLE IF NOT EXISTS sessions (id_sha256 TEXT PRIMARY KEY, user TEXT, created REAL, last_seen REAL)"


@dataclass(frozen=True)
class SessionInfo:
    """An open session, as an administrator sees it (no ID)."""

    user: str
    created: float
    last_seen: float


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    """Open sessions; one ends on logout or revocation, after `idle_seconds` unused or `lifetime_seconds` in all."""

    def __init__(self, path: Path, idle_seconds: float, lifetime_seconds: float, clock: Callable[[], float]) -> None:
        self.path, self.idle_seconds, self.lifetime_seconds, self.clock = path, idle_seconds, lifetime_seconds, clock

    @contextmanager
    def _database(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        with closing(sqlite3.connect(self.path, timeout=30)) as database, database:
            database.execute(_SCHEMA)
            yield database

    def create(self, user: str) -> str:
        """A new session for the user; the ID goes to the browser only. Ended sessions are cleared out here."""
        session_id, now = secrets.token_urlsafe(32), self.clock()
        with self._database() as database:
            self._clear_ended(database, now)
            database.execute("INSERT INTO sessions VALUES (?, ?, ?, ?)", (_digest(session_id), user, now, now))
        return session_id

    def user_of(self, session_id: str) -> str | None:
        """The session's user when it is open (and now used), else None."""
        now = self.clock()
        with self._database() as database:
            row = database.execute(
                "SELECT user FROM sessions WHERE id_sha256 = ? AND last_seen > ? AND created > ?",
                (_digest(session_id), now - self.idle_seconds, now - self.lifetime_seconds),
            ).fetchone()
            if row:
                database.execute("UPDATE sessions SET last_seen = ? WHERE id_sha256 = ?", (now, _digest(session_id)))
        return row[0] if row else None

    def revoke(self, session_id: str) -> None:
        with self._database() as database:
            database.execute("DELETE FROM sessions WHERE id_sha256 = ?", (_digest(session_id),))

    def revoke_user(self, user: str) -> int:
        """End every session of the user; how many were open."""
        with self._database() as database:
            return database.execute("DELETE FROM sessions WHERE user = ?", (user,)).rowcount

    def revoke_all(self) -> int:
        with self._database() as database:
            return database.execute("DELETE FROM sessions").rowcount

    def open_sessions(self) -> list[SessionInfo]:
        now = self.clock()
        with self._database() as database:
            self._clear_ended(database, now)
            rows = database.execute("SELECT user, created, last_seen FROM sessions ORDER BY user, created").fetchall()
        return [SessionInfo(*row) for row in rows]

    def _clear_ended(self, database: sqlite3.Connection, now: float) -> None:
        database.execute(
            "DELETE FROM sessions WHERE last_seen <= ? OR created <= ?",
            (now - self.idle_seconds, now - self.lifetime_seconds),
        )
