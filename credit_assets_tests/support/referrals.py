"""Logged decisions for the underwriter queue's tests: contract-shaped applications (the synthetic generator's,
as the decision service logs them: JSON values, TARGET absent) appended straight to a real decision log, each
received a given number of hours before `now`."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from credit_assets.core.contract import schema
from credit_assets.core.decisions.log import DecisionLog, LiveDecision, new_decision_id, request_sha256, timestamp
from credit_assets.synthetic.generate import generate_applications

MODEL_VERSION = "lightgbm-0123456789abcdef"
REASONS = tuple(schema.reason_for(name).adverse for name in ("EXT_SOURCE_2", "EXT_SOURCE_3", "AMT_INCOME_TOTAL"))
PROBABILITY = {"approve": 0.04, "review": 0.18, "decline": 0.41}


@dataclass(frozen=True)
class Arrival:
    """An application to log: how long ago it arrived and what the model decided."""

    hours_ago: float
    decision: str = "review"


def application_records(rows: int, seed: int) -> list[dict[str, Any]]:
    """Generated applications as JSON objects, the way they reach the decision service (NaN as null)."""
    frame, _ = generate_applications(rows, seed)
    return json.loads(frame.drop(columns=schema.TARGET_COLUMN).to_json(orient="records"))


def live_decision(record: dict[str, Any], received: datetime, decision: str = "review") -> LiveDecision:
    reasons = () if decision == "approve" else REASONS
    return LiveDecision(
        decision_id=new_decision_id(),
        decided_at=timestamp(received),
        application_id=int(record[schema.ID_COLUMN]),
        request_sha256=request_sha256(record),
        inputs=record,
        probability=PROBABILITY[decision],
        decision=decision,
        reasons=reasons,
        model_version=MODEL_VERSION,
        caller="test-client",
    )


def log_arrivals(log: DecisionLog, now: datetime, arrivals: list[Arrival], seed: int = 7) -> list[LiveDecision]:
    """Append one decision per arrival, oldest first as the service would have logged them; returned in the
    arrivals' order."""
    records = application_records(len(arrivals), seed)
    decisions = [
        live_decision(record, now - timedelta(hours=a.hours_ago), a.decision)
        for a, record in zip(arrivals, records, strict=True)
    ]
    log.append(sorted(decisions, key=lambda d: d.decided_at))
    return decisions


def moment(seconds: float) -> datetime:
    """A clock's reading as an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, UTC)
