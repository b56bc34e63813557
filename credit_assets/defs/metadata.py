"""Dagster metadata built from core results: tables without NaN, inline charts, check results from verdicts.

Every number shown in the UI keeps the digits its meaning warrants (`rounded`), by what its name says it is.
"""

import base64
import math
import re
from collections.abc import Callable
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd

from credit_assets.core.verdict import Severity, Verdict

_SEVERITIES = {Severity.WARN: dg.AssetCheckSeverity.WARN, Severity.ERROR: dg.AssetCheckSeverity.ERROR}

# Dagster compiles a record class on its first instantiation and keeps the calling function's local variables
# for good. Compiled first inside an asset, TableSchema kept the history month's 267,511-row frame alive for the
# rest of the run (half a GiB under every later step); compiled here, it keeps nothing of a month.
dg.TableSchema(columns=[dg.TableColumn("column", "dtype")])
dg.TableRecord({"column": "value"})


def significant(digits: int) -> Callable[[float], float]:
    return lambda value: float(f"{value:.{digits}g}")


def decimals(digits: int) -> Callable[[float], float]:
    return lambda value: round(value, digits)


def whole(value: float) -> int:
    return round(value)


# What a figure's name says it is decides its digits: the first rule with a word of the name wins (a p-value's
# significant digits; AUC, PSI, KS and calibration errors to 4 decimals; money to whole units; rates, shares and
# ratios to 3 decimals). Anything else keeps 4 significant digits.
PRECISION: tuple[tuple[frozenset[str], Callable[[float], float]], ...] = (
    (frozenset({"p", "pvalue"}), significant(3)),
    (frozenset({"learning", "cutoff", "below", "above", "limit"}), significant(4)),  # settings, as configured
    (frozenset({"min", "max", "std", "25", "50", "75"}), significant(6)),  # a column's statistics, its own units
    (frozenset({"auc", "gini", "psi", "ks", "ece", "brier", "logloss", "gap"}), decimals(4)),
    (frozenset({"profit", "loss", "exposure", "amount", "credit", "income", "annuity", "ead"}), whole),
    (
        frozenset({"rate", "share", "shares", "ratio", "ratios", "difference", "shortfall", "probability", "predicted"})
        | frozenset({"air", "tpr", "fpr", "approved", "default", "mean"}),
        decimals(3),
    ),
)
DEFAULT_PRECISION = significant(4)


def precision_of(name: str) -> Callable[[float], float] | None:
    """The rounding a figure of this name gets, or None when its name says nothing."""
    words = set(re.split(r"[^a-z0-9]+", name.lower().replace("p_value", "pvalue").replace("log_loss", "logloss")))
    return next((rule for vocabulary, rule in PRECISION if words & vocabulary), None)


def rounded(value: Any, name: str = "", inherited: Callable[[float], float] | None = None) -> Any:
    """`value` with every float (also inside dicts and lists) rounded as its name, or its parent's, says."""
    rule = precision_of(name) or inherited
    if isinstance(value, dict):
        return {key: rounded(item, str(key), rule) for key, item in value.items()}
    if type(value) in (list, tuple):  # not Dagster's records, which are tuples too
        return [rounded(item, name, rule) for item in value]
    if isinstance(value, float) and math.isfinite(value):
        return (rule or DEFAULT_PRECISION)(value)
    return value


def figure(name: str, value: Any) -> Any:
    """One metadata value for the UI: numbers rounded by `rounded`, nested values as rounded JSON."""
    if isinstance(value, dg.JsonMetadataValue):
        value = value.data
    if isinstance(value, dict | list):
        return dg.MetadataValue.json(rounded(value, name))
    return rounded(value.item() if isinstance(value, np.generic) else value, name)


def figures(metadata: dict[str, Any]) -> dict[str, Any]:
    """Asset or check metadata for the UI, every number rounded as its name says (tables round their cells)."""
    return {key: figure(key, value) for key, value in metadata.items()}


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
    rows = frame.to_dict(orient="records")
    records = [dg.TableRecord({str(k): rounded(plain(v), str(k)) for k, v in row.items()}) for row in rows]
    return dg.MetadataValue.table(records=records, schema=table_schema(frame))


def image(png: bytes, title: str) -> dg.MarkdownMetadataValue:
    """A PNG as Markdown that the Dagster UI renders as the image itself."""
    return dg.MetadataValue.md(f"![{title}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})")


def check_result(verdict: Verdict, check_name: str | None = None, **extra: Any) -> dg.AssetCheckResult:
    """The Dagster check result of a core verdict; nested figures become JSON metadata."""
    return dg.AssetCheckResult(
        check_name=check_name,
        passed=verdict.passed,
        severity=_SEVERITIES[verdict.severity],
        description=verdict.description,
        metadata=figures({**verdict.figures, **extra}),
    )
