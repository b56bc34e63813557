"""Dagster metadata built from core results: tables without NaN, inline charts, check results from verdicts."""

import base64
import math
from typing import Any

import dagster as dg
import pandas as pd

from credit_assets.core.verdict import Severity, Verdict

_SEVERITIES = {Severity.WARN: dg.AssetCheckSeverity.WARN, Severity.ERROR: dg.AssetCheckSeverity.ERROR}

# Dagster compiles a record class on its first instantiation and keeps the calling function's local variables
# for good. Compiled first inside an asset, TableSchema kept the history month's 267,511-row frame alive for the
# rest of the run (half a GiB under every later step); compiled here, it keeps nothing of a month.
dg.TableSchema(columns=[dg.TableColumn("column", "dtype")])
dg.TableRecord({"column": "value"})


def table_schema(frame: pd.DataFrame) -> dg.TableSchema:
    """The frame's columns and dtypes as Dagster column schema metadata."""
    return dg.TableSchema(columns=[dg.TableColumn(str(name), str(dtype)) for name, dtype in frame.dtypes.items()])


def plain(value: Any) -> str | int | float | bool | None:
    """A JSON-safe cell: numpy scalars as Python values, NaN, infinity and missing values as None."""
    if hasattr(value, "item"):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value if isinstance(value, str | int | bool) else str(value)


def table(frame: pd.DataFrame) -> dg.TableMetadataValue:
    """A small frame as a table the Dagster UI shows; every cell JSON-safe (Dagster's renderer rejects NaN)."""
    records = [dg.TableRecord({str(k): plain(v) for k, v in row.items()}) for row in frame.to_dict(orient="records")]
    return dg.MetadataValue.table(records=records, schema=table_schema(frame))


def image(png: bytes, title: str) -> dg.MarkdownMetadataValue:
    """A PNG as Markdown that the Dagster UI renders as the image itself."""
    return dg.MetadataValue.md(f"![{title}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})")


def check_result(verdict: Verdict, check_name: str | None = None, **extra: Any) -> dg.AssetCheckResult:
    """The Dagster check result of a core verdict; nested figures become JSON metadata."""
    figures = {**verdict.figures, **extra}
    return dg.AssetCheckResult(
        check_name=check_name,
        passed=verdict.passed,
        severity=_SEVERITIES[verdict.severity],
        description=verdict.description,
        metadata={k: dg.MetadataValue.json(v) if isinstance(v, dict | list) else v for k, v in figures.items()},
    )
