"""Live decisions made as the decision service makes them (the contract's checks, the batch's scoring code, the
registry's champion), for tests that need a filled decision log without running the service."""

from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from credit_assets.core.contract import schema
from credit_assets.core.contract.landing import read_landing_csv
from credit_assets.core.decisions.live import check_records, decide_frame
from credit_assets.core.decisions.log import DecisionLog, LiveDecision, new_decision_id, request_sha256, timestamp
from credit_assets.core.modeling.registry import ModelRegistry
from credit_assets.core.months import landing_file_name
from credit_assets.core.scoring import NO_REASON, Cutoffs, reason_columns
from credit_assets.defs.storage import StorageResource
from credit_assets_tests.support.files import read_json
from credit_assets_tests.support.materialise import SCORED_MONTH

ID = schema.ID_COLUMN


def json_value(value: Any) -> Any:
    """A cell as JSON gives it: None when missing, numpy scalars as Python numbers."""
    return None if pd.isna(value) else value.item() if hasattr(value, "item") else value


def records_of(storage: StorageResource, month: str) -> list[dict[str, Any]]:
    """The month's landing file as JSON-like records without TARGET, as a caller sends them."""
    frame = read_landing_csv(storage.store.local_root.joinpath("landing", landing_file_name(month))).drop(
        columns=schema.TARGET_COLUMN
    )
    return [{name: json_value(value) for name, value in row.items()} for row in frame.to_dict(orient="records")]


def decide(
    storage: StorageResource, records: list[dict[str, Any]], start: datetime, month: str = SCORED_MONTH
) -> list[LiveDecision]:
    """Decide the records as the service does, with the champion and cut-offs that scored `month` in the batch, one
    second apart from `start`."""
    forecasts = storage.store.read_table("forecasts", month, ["model_version"])
    champion = ModelRegistry(storage.store.blobs).load(forecasts["model_version"].iloc[0])
    cutoffs = Cutoffs(**read_json(storage.store.local_root.joinpath("artifacts", "forecasts", month) / "cutoffs.json"))
    frame, failures = check_records(records)
    assert frame is not None, failures[:3]
    table = decide_frame(frame, champion, cutoffs)
    return [
        LiveDecision(
            decision_id=new_decision_id(),
            decided_at=timestamp(start + timedelta(seconds=i)),
            application_id=int(row[ID]),
            request_sha256=request_sha256(record),
            inputs=record,
            probability=float(row["default_probability"]),
            decision=row["decision"],
            reasons=tuple(row[c] for c in reason_columns() if row[c] != NO_REASON),
            model_version=row["model_version"],
            caller="test",
        )
        for i, (record, row) in enumerate(zip(records, table.to_dict(orient="records"), strict=True))
    ]


def underwrite_month(log: DecisionLog, decided: list[LiveDecision]) -> dict[int, str]:
    """Every referral decided (approve and decline in turn), one automatic approve overridden to a decline and one
    automatic decline to an approval; returns the reason code per application."""
    codes = {}
    referrals = [d for d in decided if d.decision == "review"]
    for i, referral in enumerate(referrals):
        final, code = ("approve", "income_verified") if i % 2 else ("decline", "income_not_verified")
        log.underwrite(referral.decision_id, "uw1", final, code, "documents checked")
        codes[referral.application_id] = code
    approved = next(d for d in decided if d.decision == "approve")
    declined = next(d for d in decided if d.decision == "decline")
    log.underwrite(approved.decision_id, "uw2", "decline", "excessive_obligations", "other debts found")
    log.underwrite(declined.decision_id, "uw2", "approve", "compensating_factors", "large deposit")
    codes[approved.application_id], codes[declined.application_id] = "excessive_obligations", "compensating_factors"
    return codes
