"""One application, or a batch, decided as the monthly batch decides it: the contract's checks, then the same
normalising, features and scoring code, with the champion and cut-offs given.

Records arrive as JSON objects keyed by the contract's column names (TARGET absent). A record that breaks a rule
gets one failure per field with the rule's name (the monthly suite's names) and the value; a request with any
failure is decided for none of its records.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from credit_assets.core.contract import quality, schema
from credit_assets.core.contract.normalise import normalise
from credit_assets.core.features import build_features
from credit_assets.core.modeling.models import Model
from credit_assets.core.scoring import Cutoffs, score

RECORD = "(record)"  # the field of a failure about the whole record
TYPE_RULE = "type_matches_contract"  # what the monthly file's reader enforces as it parses a column


@dataclass(frozen=True)
class RecordFailure:
    """One field of one record that breaks a contract rule."""

    record: int  # position in the request
    field: str
    rule: str
    value: Any
    message: str

    def as_json(self) -> dict[str, Any]:
        return {
            "record": self.record,
            "field": self.field,
            "rule": self.rule,
            "value": self.value,
            "message": self.message,
        }


def _type_failure(name: str, value: Any) -> str | None:
    """Why the value cannot stand in the contract column `name`, or None."""
    if value is None:
        return None
    column = schema.column(name)
    if column.is_text:
        return None if isinstance(value, str) else "text expected"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "a number expected"
    if column.dtype == "int64" and not float(value).is_integer():
        return "a whole number expected"
    return None


def _shape_failures(position: int, record: object, names: list[str]) -> list[RecordFailure]:
    if not isinstance(record, dict):
        return [RecordFailure(position, RECORD, "columns_match_contract", None, "a JSON object expected")]
    failures = [
        RecordFailure(position, name, "columns_match_contract", None, "missing: every contract column is required")
        for name in names
        if name not in record
    ]
    failures += [
        RecordFailure(
            position,
            str(name)[:64],
            "columns_match_contract",
            None,
            "not a column of the contract"
            + (" (TARGET is the outcome: never sent for a decision)" if name == schema.TARGET_COLUMN else ""),
        )
        for name in record
        if name not in names
    ]
    failures += [
        RecordFailure(position, name, TYPE_RULE, record[name], problem)
        for name in names
        if name in record and (problem := _type_failure(name, record[name]))
    ]
    return failures


def records_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Well-typed records as the monthly file's reader types them: int64, float64 and text (None when empty)."""
    columns: dict[str, np.ndarray] = {}
    for column in schema.columns():
        if column.name == schema.TARGET_COLUMN:
            continue
        values = [record[column.name] for record in records]
        if column.is_text:
            columns[column.name] = np.array(values, dtype=object)
        elif column.dtype == "int64" and None not in values:
            columns[column.name] = np.array(values, dtype="float64").astype("int64")
        else:
            columns[column.name] = np.array(values, dtype="float64")
    return pd.DataFrame(columns)


def shape_failures(records: list[object]) -> list[RecordFailure]:
    """What pure Python finds record by record: objects with exactly the contract's columns, typed values, and no
    application ID twice in one request."""
    names = schema.column_names(with_target=False)
    failures = [failure for i, record in enumerate(records) for failure in _shape_failures(i, record, names)]
    seen: dict[object, int] = {}
    for i, record in enumerate(records):
        identifier = record.get(schema.ID_COLUMN) if isinstance(record, dict) else None
        if identifier is not None and seen.setdefault(identifier, i) != i:
            failures.append(
                RecordFailure(
                    i, schema.ID_COLUMN, "id_present_and_unique", identifier, f"repeats record {seen[identifier]}"
                )
            )
    return failures


def value_failures(frame: pd.DataFrame, records: list[dict[str, Any]]) -> list[RecordFailure]:
    """The contract's row rules over well-shaped records (their typed frame), record by record."""
    failures = [
        RecordFailure(int(position), name, rule.value, records[position][name], rule.description)
        for rule, name, broken in quality.row_breaches(frame)
        for position in np.flatnonzero(broken)
    ]
    return sorted(failures, key=lambda failure: failure.record)


def check_records(records: list[object]) -> tuple[pd.DataFrame | None, list[RecordFailure]]:
    """The records as a typed frame when every one keeps the contract, else None and every failure found (the
    values are judged once every record has the contract's shape)."""
    failures = shape_failures(records)
    if failures:
        return None, failures
    frame = records_frame(records)  # type: ignore[arg-type]
    failures = value_failures(frame, records)  # type: ignore[arg-type]
    return (None, failures) if failures else (frame, [])


def decide_frame(frame: pd.DataFrame, model: Model, cutoffs: Cutoffs) -> pd.DataFrame:
    """The forecast table of checked records: exactly the batch's normalising, features and scoring."""
    return score(build_features(normalise(frame)), model, cutoffs)
