"""The decision log: every live decision and every underwriter's decision, append-only, in the deployment's database.

SQLite by default (a file under the storage root, WAL and a full sync at every commit), PostgreSQL when the
deployment runs one (the same DAGSTER_PG_* settings as Dagster's instance). Both databases refuse an UPDATE or
DELETE of a logged decision by trigger, so not even a bug in this code can rewrite one. A decision is committed
before its answer leaves the service.
"""

import hashlib
import json
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from credit_assets.core.contract import schema
from credit_assets.core.scoring import NO_REASON, REASON_COUNT, reason_columns

SCHEMA_LOCK = 28_000_001  # a PostgreSQL advisory lock: one process at a time creates the tables and triggers
NOTICE_DAYS = 30  # Regulation B, 12 CFR 1002.9(a)(1)(i): notice within 30 days of a completed application

METADATA = sa.MetaData()
DECISIONS = sa.Table(
    "credit_decisions",
    METADATA,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("decision_id", sa.String(32), nullable=False, unique=True),
    sa.Column("decided_at", sa.String(32), nullable=False),  # ISO 8601 UTC to the microsecond
    sa.Column("month", sa.String(7), nullable=False, index=True),
    sa.Column("application_id", sa.BigInteger, nullable=False, unique=True),  # an application is decided once
    sa.Column("request_sha256", sa.String(64), nullable=False),
    sa.Column("inputs", sa.Text, nullable=False),  # the record as checked, canonical JSON
    sa.Column("probability", sa.Float(precision=53), nullable=False),
    sa.Column("decision", sa.String(8), nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),  # JSON list, largest first
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("caller", sa.String(64), nullable=False),
)
UNDERWRITING = sa.Table(
    "credit_underwriting",
    METADATA,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("decision_id", sa.String(32), sa.ForeignKey(DECISIONS.c.decision_id), nullable=False, unique=True),
    sa.Column("decided_at", sa.String(32), nullable=False),
    sa.Column("underwriter", sa.String(32), nullable=False),
    sa.Column("final_decision", sa.String(8), nullable=False),
    sa.Column("reason_code", sa.String(40), nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("automatic_decision", sa.String(8), nullable=False),
)
APPEND_ONLY = (DECISIONS.name, UNDERWRITING.name)


@dataclass(frozen=True)
class UnderwriterReason:
    """A reason an underwriter may give: for which final decision, and for a decline the notice's statement."""

    code: str
    label: str
    final_decision: str  # approve or decline
    statement: str = ""  # what a decline's notice says (Regulation B: the specific reason)


UNDERWRITER_REASONS = {
    reason.code: reason
    for reason in (
        UnderwriterReason("income_verified", "Income verified with documents", "approve"),
        UnderwriterReason("employment_verified", "Employment verified with the employer", "approve"),
        UnderwriterReason("compensating_factors", "Compensating factors documented in the comment", "approve"),
        UnderwriterReason("income_not_verified", "Income could not be verified", "decline", "Unable to verify income"),
        UnderwriterReason(
            "excessive_obligations",
            "Obligations too high for the income",
            "decline",
            "Excessive obligations in relation to income",
        ),
        UnderwriterReason("incomplete_application", "Application incomplete", "decline", "Incomplete application"),
        UnderwriterReason(
            "employment_not_verified",
            "Employment could not be verified",
            "decline",
            "Unable to verify employment",
        ),
    )
}


class DecisionLogError(ValueError):
    """A write the log refuses: the message says why; nothing was written."""


@dataclass(frozen=True)
class LiveDecision:
    """One automatic decision as logged: what was asked, what was answered, by which model, for whom."""

    decision_id: str
    decided_at: str
    application_id: int
    request_sha256: str
    inputs: dict[str, Any]
    probability: float
    decision: str
    reasons: tuple[str, ...]
    model_version: str
    caller: str

    @property
    def month(self) -> str:
        return self.decided_at[:7]

    def answer(self) -> dict[str, Any]:
        """What the caller is told: no inputs echoed back."""
        return {
            "decision_id": self.decision_id,
            "application_id": self.application_id,
            "default_probability": self.probability,
            "decision": self.decision,
            "reasons": list(self.reasons),
            "model_version": self.model_version,
            "decided_at": self.decided_at,
        }


@dataclass(frozen=True)
class Underwriting:
    """An underwriter's final decision on a referral, or an override of an automatic decision."""

    decision_id: str
    decided_at: str
    underwriter: str
    final_decision: str
    reason_code: str
    comment: str
    automatic_decision: str

    @property
    def override(self) -> bool:
        """An automatic approve or decline turned round (a referral's decision is no override)."""
        return self.automatic_decision != "review" and self.final_decision != self.automatic_decision


def now_utc() -> datetime:
    return datetime.now(UTC)


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_json(record: dict[str, Any]) -> str:
    """The record as sorted, compact JSON: the same record always hashes the same."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), allow_nan=False)


def request_sha256(record: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(record).encode()).hexdigest()


def new_decision_id() -> str:
    return uuid.uuid4().hex


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # durable at commit, not only crash-consistent
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _append_only_ddl(dialect: str, table: str) -> list[str]:
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            for verb in ("UPDATE", "DELETE")
        ]
    return [
        f"CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{table} is append-only'; END $$",
        f"CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()",
    ]


def make_engine(url: str) -> Engine:
    """An engine on the URL, its tables and append-only triggers created when missing."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # owner-only: the inputs are about people
    engine = sa.create_engine(url, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":  # the service's workers and the runs may all open it at once
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
        METADATA.create_all(connection)
        for table in APPEND_ONLY:
            for statement in _append_only_ddl(engine.dialect.name, table):
                connection.exec_driver_sql(statement)
    return engine


def _decision_row(decision: LiveDecision) -> dict[str, Any]:
    return {
        "decision_id": decision.decision_id,
        "decided_at": decision.decided_at,
        "month": decision.month,
        "application_id": decision.application_id,
        "request_sha256": decision.request_sha256,
        "inputs": canonical_json(decision.inputs),
        "probability": decision.probability,
        "decision": decision.decision,
        "reasons": json.dumps(list(decision.reasons)),
        "model_version": decision.model_version,
        "caller": decision.caller,
    }


def _decision(row: Any) -> LiveDecision:
    return LiveDecision(
        decision_id=row.decision_id,
        decided_at=row.decided_at,
        application_id=int(row.application_id),
        request_sha256=row.request_sha256,
        inputs=json.loads(row.inputs),
        probability=float(row.probability),
        decision=row.decision,
        reasons=tuple(json.loads(row.reasons)),
        model_version=row.model_version,
        caller=row.caller,
    )


def _underwriting(row: Any) -> Underwriting:
    return Underwriting(**{name: getattr(row, name) for name in Underwriting.__dataclass_fields__})


class DecisionLog:
    """Append and read logged decisions; one engine per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)

    def append(self, decisions: Iterable[LiveDecision]) -> None:
        """Commit the decisions in one transaction (one sync for a micro-batch): all or none are logged."""
        rows = [_decision_row(decision) for decision in decisions]
        if rows:
            with self.engine.begin() as connection:
                connection.execute(DECISIONS.insert(), rows)

    def get(self, decision_id: str) -> LiveDecision | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(DECISIONS).where(DECISIONS.c.decision_id == decision_id)).first()
        return _decision(row) if row else None

    def by_application(self, application_ids: Iterable[int]) -> dict[int, LiveDecision]:
        """The logged decisions of these applications, by application ID."""
        ids = [int(i) for i in application_ids]
        if not ids:
            return {}
        query = sa.select(DECISIONS).where(DECISIONS.c.application_id.in_(ids))
        with self.engine.connect() as connection:
            return {int(row.application_id): _decision(row) for row in connection.execute(query)}

    def month_decisions(self, month: str) -> list[LiveDecision]:
        """The month's decisions (by the day they were made, UTC), in the order they were made."""
        query = sa.select(DECISIONS).where(DECISIONS.c.month == month).order_by(DECISIONS.c.seq)
        with self.engine.connect() as connection:
            return [_decision(row) for row in connection.execute(query)]

    def underwriting_of(self, decision_ids: Iterable[str]) -> dict[str, Underwriting]:
        ids = list(decision_ids)
        query = sa.select(UNDERWRITING).where(UNDERWRITING.c.decision_id.in_(ids))
        with self.engine.connect() as connection:
            return {row.decision_id: _underwriting(row) for row in connection.execute(query)} if ids else {}

    def pending_referrals(self, limit: int = 200) -> list[LiveDecision]:
        """Referred applications no underwriter has decided yet, oldest first."""
        decided = sa.select(UNDERWRITING.c.decision_id)
        query = (
            sa.select(DECISIONS)
            .where(DECISIONS.c.decision == "review", DECISIONS.c.decision_id.not_in(decided))
            .order_by(DECISIONS.c.seq)
            .limit(limit)
        )
        with self.engine.connect() as connection:
            return [_decision(row) for row in connection.execute(query)]

    def underwrite(
        self, decision_id: str, underwriter: str, final_decision: str, reason_code: str, comment: str
    ) -> Underwriting:
        """Record an underwriter's final decision; refused (DecisionLogError) unless the reason fits the decision,
        the decision exists and nobody decided it before (the table's unique key settles a race)."""
        reason = UNDERWRITER_REASONS.get(reason_code)
        if reason is None or reason.final_decision != final_decision:
            raise DecisionLogError(f"reason {reason_code!r} is not a reason to {final_decision}")
        automatic = self.get(decision_id)
        if automatic is None:
            raise DecisionLogError(f"no decision {decision_id!r} in the log")
        if automatic.decision == final_decision:
            raise DecisionLogError(f"the application was already decided {final_decision} automatically")
        entry = Underwriting(
            decision_id, timestamp(now_utc()), underwriter, final_decision, reason_code, comment, automatic.decision
        )
        try:
            with self.engine.begin() as connection:
                connection.execute(UNDERWRITING.insert(), [vars(entry)])
        except sa.exc.IntegrityError as error:
            raise DecisionLogError(f"decision {decision_id} was already decided by an underwriter") from error
        return entry


def decisions_frame(decisions: list[LiveDecision]) -> pd.DataFrame:
    """Logged decisions as a forecast-shaped table: SK_ID_CURR, probability, decision, reason_1..4, model version,
    plus decision_id, decided_at and caller."""
    reasons = [list(d.reasons) + [NO_REASON] * (REASON_COUNT - len(d.reasons)) for d in decisions]
    frame = pd.DataFrame(
        {
            schema.ID_COLUMN: pd.array([d.application_id for d in decisions], dtype="int64"),
            "default_probability": pd.array([d.probability for d in decisions], dtype="float64"),
            "decision": [d.decision for d in decisions],
        }
    )
    for i, column in enumerate(reason_columns()):
        frame[column] = [row[i] for row in reasons]
    frame["model_version"] = [d.model_version for d in decisions]
    frame["decision_id"] = [d.decision_id for d in decisions]
    frame["decided_at"] = [d.decided_at for d in decisions]
    frame["caller"] = [d.caller for d in decisions]
    return frame


def notice_deadline(applied_at: str) -> str:
    """The last day (ISO date) a notice of action may carry for an application received at `applied_at`."""
    return (datetime.fromisoformat(applied_at) + timedelta(days=NOTICE_DAYS)).date().isoformat()
