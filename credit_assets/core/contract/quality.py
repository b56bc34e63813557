"""Great Expectations suite derived from the contract, grouped into the rules that Dagster reports as asset checks."""

import logging
import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import great_expectations as gx
import numpy as np
import pandas as pd
from great_expectations.core import ExpectationValidationResult
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.datasource.fluent.interfaces import Batch
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

from credit_assets.core.contract import schema

MAX_EXAMPLES = 5
MISSING_RATE_TOLERANCE = 0.10  # absolute, on top of four binomial standard errors for the month's size


class Rule(StrEnum):
    """The contract's quality rules; each becomes one blocking asset check, its GX expectations tagged with it."""

    COLUMNS_MATCH_CONTRACT = "columns_match_contract"
    HAS_ROWS = "has_rows"
    ID_PRESENT_AND_UNIQUE = "id_present_and_unique"
    REQUIRED_COLUMNS_COMPLETE = "required_columns_complete"
    LEVELS_WITHIN_CONTRACT = "levels_within_contract"
    VALUES_WITHIN_BOUNDS = "values_within_bounds"
    MISSING_RATES_WITHIN_TOLERANCE = "missing_rates_within_tolerance"
    TARGET_IS_BINARY = "target_is_binary"
    IDS_NOT_SEEN_BEFORE = "ids_not_seen_before"

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS: dict[Rule, str] = {
    Rule.COLUMNS_MATCH_CONTRACT: (
        "Exactly the contract's 122 columns in file order (121 without TARGET for an unlabelled month)."
    ),
    Rule.HAS_ROWS: "At least one application.",
    Rule.ID_PRESENT_AND_UNIQUE: "SK_ID_CURR is never empty and never repeated within the month.",
    Rule.REQUIRED_COLUMNS_COMPLETE: "Columns that are never empty in the real file are complete.",
    Rule.LEVELS_WITHIN_CONTRACT: "Text columns only use the contract's levels.",
    Rule.VALUES_WITHIN_BOUNDS: "Numeric values within the contract's plausible bounds (sentinel codes allowed).",
    Rule.MISSING_RATES_WITHIN_TOLERANCE: "Each column's share of missing values is close to the real file's.",
    Rule.TARGET_IS_BINARY: "TARGET, where present, is 0 or 1 and never empty.",
    Rule.IDS_NOT_SEEN_BEFORE: "No SK_ID_CURR of this month appears in an earlier month or the history (leakage).",
}


@dataclass
class Finding:
    """One failed expectation, in words a data owner can act on."""

    column: str
    expectation: str
    unexpected: int | None
    detail: str

    def as_row(self) -> str:
        count = "" if self.unexpected is None else str(self.unexpected)
        return f"| {self.column} | {self.expectation} | {count} | {self.detail} |"


@dataclass
class RuleOutcome:
    """The result of one rule over one month's file."""

    rule: Rule
    checked: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        if self.passed:
            return f"{self.rule}: {self.checked} expectation(s) met"
        shown = "; ".join(f"{f.column}: {f.detail}" for f in self.findings[:3])
        more = f" (+{len(self.findings) - 3} more)" if len(self.findings) > 3 else ""
        return f"{self.rule}: {shown}{more}"

    def markdown(self) -> str:
        lines = ["| column | expectation | rows | detail |", "|---|---|---|---|"]
        return "\n".join(lines + [finding.as_row() for finding in self.findings])


def _tag(rule: Rule, expectation: gx.expectations.Expectation) -> gx.expectations.Expectation:
    expectation.meta = {"rule": rule.value}
    return expectation


def _missing_rate_band(rate: float, rows: int) -> tuple[float, float]:
    spread = MISSING_RATE_TOLERANCE + 4 * math.sqrt(rate * (1 - rate) / max(rows, 1))
    return max(0.0, 1 - rate - spread), min(1.0, 1 - rate + spread)


def _contract_columns_in(frame: pd.DataFrame) -> list[schema.Column]:
    return [col for col in schema.columns() if col.name in frame.columns]


def _reused(frame: pd.DataFrame, earlier_ids: Iterable[int]) -> list[int]:
    """The month's IDs that earlier months hold: the same verdict as the whole earlier set, without handing GX
    hundreds of thousands of values to serialise with the expectation."""
    ids = pd.to_numeric(frame[schema.ID_COLUMN], errors="coerce").dropna().astype("int64").to_numpy()
    return np.intersect1d(ids, np.fromiter(earlier_ids, dtype="int64")).tolist()


def build_expectations(frame: pd.DataFrame, earlier_ids: Iterable[int]) -> list[gx.expectations.Expectation]:
    """Every expectation the contract implies for this frame, tagged with its rule."""
    E = gx.expectations
    present = _contract_columns_in(frame)
    expected_columns = schema.column_names(with_target=schema.TARGET_COLUMN in frame.columns)
    expectations = [
        _tag(Rule.COLUMNS_MATCH_CONTRACT, E.ExpectTableColumnsToMatchOrderedList(column_list=expected_columns)),
        _tag(Rule.HAS_ROWS, E.ExpectTableRowCountToBeBetween(min_value=1)),
    ]
    if schema.ID_COLUMN in frame.columns:
        expectations += [
            _tag(Rule.ID_PRESENT_AND_UNIQUE, E.ExpectColumnValuesToNotBeNull(column=schema.ID_COLUMN)),
            _tag(Rule.ID_PRESENT_AND_UNIQUE, E.ExpectColumnValuesToBeUnique(column=schema.ID_COLUMN)),
            _tag(
                Rule.IDS_NOT_SEEN_BEFORE,
                E.ExpectColumnValuesToNotBeInSet(column=schema.ID_COLUMN, value_set=_reused(frame, earlier_ids)),
            ),
        ]
    if schema.TARGET_COLUMN in frame.columns:
        expectations += [
            _tag(Rule.TARGET_IS_BINARY, E.ExpectColumnValuesToNotBeNull(column=schema.TARGET_COLUMN)),
            _tag(Rule.TARGET_IS_BINARY, E.ExpectColumnValuesToBeInSet(column=schema.TARGET_COLUMN, value_set=[0, 1])),
        ]
    for col in present:
        expectations += _column_expectations(col, len(frame))
    if frame.empty:  # an empty month breaks has_rows; missing rates of zero rows say nothing more
        expectations = [e for e in expectations if e.meta["rule"] != Rule.MISSING_RATES_WITHIN_TOLERANCE]
    return expectations


def _column_expectations(col: schema.Column, rows: int) -> list[gx.expectations.Expectation]:
    E = gx.expectations
    found: list[gx.expectations.Expectation] = []
    if col.name in (schema.ID_COLUMN, schema.TARGET_COLUMN):
        return found
    if not col.nullable:
        found.append(_tag(Rule.REQUIRED_COLUMNS_COMPLETE, E.ExpectColumnValuesToNotBeNull(column=col.name)))
    else:
        low, high = _missing_rate_band(col.missing_rate, rows)
        found.append(
            _tag(
                Rule.MISSING_RATES_WITHIN_TOLERANCE,
                E.ExpectColumnProportionOfNonNullValuesToBeBetween(column=col.name, min_value=low, max_value=high),
            )
        )
    if col.is_text:
        found.append(
            _tag(
                Rule.LEVELS_WITHIN_CONTRACT, E.ExpectColumnValuesToBeInSet(column=col.name, value_set=list(col.levels))
            )
        )
    elif col.sentinel is not None:
        found.append(
            _tag(
                Rule.VALUES_WITHIN_BOUNDS,
                E.ExpectColumnValuesToBeBetween(
                    column=col.name,
                    min_value=col.low,
                    max_value=col.high,
                    row_condition=f"{col.name} != {col.sentinel}",
                    condition_parser="pandas",
                ),
            )
        )
    else:
        found.append(
            _tag(
                Rule.VALUES_WITHIN_BOUNDS,
                E.ExpectColumnValuesToBeBetween(column=col.name, min_value=col.low, max_value=col.high),
            )
        )
    return found


def _finding(result: ExpectationValidationResult) -> Finding:
    config = result.expectation_config
    column = config.kwargs.get("column", "(table)")
    details = result.result or {}
    raised = _raised_message(result)
    if raised:
        return Finding(column, config.type, None, f"could not be evaluated: {raised}")
    if "observed_value" in details and "unexpected_count" not in details:
        observed = details["observed_value"]
        if config.type == "expect_table_columns_to_match_ordered_list":
            return Finding(column, config.type, None, _column_diff(config.kwargs["column_list"], observed))
        low, high = config.kwargs.get("min_value"), config.kwargs.get("max_value")
        what = "share of non-missing values" if "proportion_of_non_null" in config.type else "value"
        return Finding(
            column, config.type, None, f"{what} {_number(observed)}, expected within [{_number(low)}, {_number(high)}]"
        )
    examples = [
        f"SK_ID_CURR {entry.get(schema.ID_COLUMN, '?')} = {_short(entry.get(column))}"
        for entry in (details.get("partial_unexpected_index_list") or [])[:MAX_EXAMPLES]
    ] or [_short(value) for value in (details.get("partial_unexpected_list") or [])[:MAX_EXAMPLES]]
    rule_text = _rule_text(config)
    return Finding(
        column,
        config.type,
        details.get("unexpected_count"),
        f"{details.get('unexpected_count')} row(s) {rule_text}; e.g. {', '.join(examples)}",
    )


def _rule_text(config: ExpectationConfiguration) -> str:
    kwargs = config.kwargs
    return {
        "expect_column_values_to_be_between": f"outside [{kwargs.get('min_value')}, {kwargs.get('max_value')}]",
        "expect_column_values_to_be_in_set": "not in the contract's levels",
        "expect_column_values_to_not_be_in_set": "already seen in an earlier month",
        "expect_column_values_to_be_unique": "repeated",
        "expect_column_values_to_not_be_null": "empty",
    }.get(config.type, f"break {config.type}")


def _column_diff(expected: list[str], observed: list[str]) -> str:
    missing = [name for name in expected if name not in observed]
    extra = [name for name in observed if name not in expected]
    if missing or extra:
        return f"missing {missing or 'none'}, unexpected {extra or 'none'}"
    first = next(i for i, (a, b) in enumerate(zip(expected, observed, strict=False)) if a != b)
    return f"same columns, wrong order: position {first + 1} holds {observed[first]}, contract says {expected[first]}"


def _raised_message(result: ExpectationValidationResult) -> str | None:
    info = result.exception_info or {}
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    nested = [value for value in info.values() if isinstance(value, dict) and value.get("raised_exception", True)]
    return str(nested[0].get("exception_message")) if nested else None


def _number(value: object) -> str:
    return "none" if value is None else f"{float(value):.4g}"


def _short(value: object) -> str:
    text = repr(value.item() if hasattr(value, "item") else value)
    return text if len(text) <= 120 else text[:117] + "..."


def known_ids(id_columns: Iterable[pd.Series]) -> np.ndarray:
    """Every SK_ID_CURR of the given earlier months, once."""
    arrays = [column.to_numpy() for column in id_columns]
    return np.unique(np.concatenate(arrays)) if arrays else np.array([], dtype="int64")


def ids_before(month: str, months: Iterable[str], read_ids: Callable[[str], pd.Series]) -> np.ndarray:
    """Every SK_ID_CURR of the stored months before `month` (the leakage rule's reference set)."""
    return known_ids(read_ids(key) for key in months if key < month)


def _detailed_format(frame: pd.DataFrame) -> dict[str, Any]:
    result_format: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": MAX_EXAMPLES}
    if schema.ID_COLUMN in frame.columns:
        result_format["unexpected_index_column_names"] = [schema.ID_COLUMN]
    return result_format


@contextmanager
def _month_batch(frame: pd.DataFrame) -> Iterator[Batch]:
    """The frame as a batch of an ephemeral GX context, dropped afterwards."""
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("applications")
    try:
        asset = source.add_dataframe_asset("month").add_batch_definition_whole_dataframe("whole_month")
        yield asset.get_batch(batch_parameters={"dataframe": frame})
    finally:  # the ephemeral context lives on as GX's current project and would keep the month's frame alive
        context.data_sources.delete("applications")


def _run(batch: Batch, expectations: list, result_format: str | dict[str, Any]) -> list[ExpectationValidationResult]:
    suite = gx.ExpectationSuite(name="application_contract", expectations=expectations)
    return batch.validate(suite, result_format=result_format).results if expectations else []


def validate(frame: pd.DataFrame, earlier_ids: Iterable[int]) -> list[RuleOutcome]:
    """Run the contract's GX suite on one month's frame and group the results into rule outcomes.

    Every expectation is first evaluated for its verdict alone (BOOLEAN_ONLY); only the failed ones run again
    for counts and example rows. Most of GX's cost is per expectation and metric, so a passing month costs
    less than half of a one-pass SUMMARY validation, with the same verdicts and messages.
    """
    with _month_batch(frame) as batch:
        verdicts = _run(batch, build_expectations(frame, earlier_ids), "BOOLEAN_ONLY")
        failed = [result.expectation_config.to_domain_obj() for result in verdicts if not result.success]
        details = _run(batch, failed, _detailed_format(frame))
    outcomes = {rule: RuleOutcome(rule) for rule in Rule}
    for result in verdicts:
        outcomes[Rule(result.expectation_config.meta["rule"])].checked += 1
    for result in details:
        outcomes[Rule(result.expectation_config.meta["rule"])].findings.append(_finding(result))
    return list(outcomes.values())
