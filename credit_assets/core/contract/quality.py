"""Great Expectations suite derived from the contract, grouped into the rules that Dagster reports as asset checks."""

import logging
import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import great_expectations as gx
import numpy as np
import pandas as pd
from great_expectations.core import ExpectationValidationResult
from great_expectations.core.metric_domain_types import MetricDomainTypes
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.datasource.fluent.interfaces import Batch
from great_expectations.execution_engine import ExecutionEngine, PandasExecutionEngine
from great_expectations.expectations.expectation import BatchExpectation
from great_expectations.expectations.metrics.metric_provider import metric_value
from great_expectations.expectations.metrics.table_metric_provider import TableMetricProvider

from credit_assets.core.contract import schema
from credit_assets.core.contract.landing import count, line_numbers, listing

MAX_EXAMPLES = 5
TABLE = "(file)"  # the column of a finding about the whole file, as the reader names it
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
    """One broken check of a rule, in words a data owner can act on."""

    column: str
    check: str
    unexpected: int | None
    detail: str

    def as_row(self) -> str:
        count = "" if self.unexpected is None else str(self.unexpected)
        return f"| {self.column} | {self.check} | {count} | {self.detail} |"


@dataclass
class RuleOutcome:
    """The result of one rule over one month's file."""

    rule: Rule
    checked: int = 0  # the column checks the rule made
    findings: list[Finding] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        if self.passed:
            return f"{self.rule}: {self.checked} check(s) passed"
        shown = "; ".join(f.detail if f.column == TABLE else f"{f.column}: {f.detail}" for f in self.findings[:3])
        more = f" (+{len(self.findings) - 3} more)" if len(self.findings) > 3 else ""
        return f"{self.rule}: {shown}{more}"

    def markdown(self) -> str:
        lines = ["| column | check | rows | detail |", "|---|---|---|---|"]
        return "\n".join(lines + [finding.as_row() for finding in self.findings])


def _missing_rate_band(rate: float, rows: int) -> tuple[float, float]:
    spread = MISSING_RATE_TOLERANCE + 4 * math.sqrt(rate * (1 - rate) / max(rows, 1))
    return max(0.0, 1 - rate - spread), min(1.0, 1 - rate + spread)


def _reused(frame: pd.DataFrame, earlier_ids: Iterable[int]) -> list[list[Any]]:
    """[ID, month] for the month's IDs that earlier months hold: the same verdict as the whole earlier set, without
    handing GX hundreds of thousands of values to serialise with the expectation. The month is known when
    `earlier_ids` is a Series indexed by month (as ids_before gives), else None."""
    ids = pd.to_numeric(frame[schema.ID_COLUMN], errors="coerce").dropna().astype("int64").to_numpy()
    if isinstance(earlier_ids, pd.Series):
        earlier = pd.Series(earlier_ids.index, index=earlier_ids.to_numpy())
    else:
        earlier = pd.Series(None, index=np.fromiter(earlier_ids, dtype="int64"), dtype=object)
    reused = earlier[earlier.index.isin(ids)]
    return [[int(i), month if isinstance(month, str) else None] for i, month in reused.items()]


def rule_specs(frame: pd.DataFrame, earlier_ids: Iterable[int]) -> dict[Rule, dict[str, Any]]:
    """What each rule checks in this frame, derived from the contract (JSON-ready: it is the expectation's kwargs).

    A rule with nothing to check in the frame (no ID column, no TARGET) is left out, as an empty month's missing
    rates are: an empty month breaks has_rows, and the shares of zero rows say nothing more.
    """
    present = [col for col in schema.columns() if col.name in frame.columns]
    features = [col for col in present if col.name not in (schema.ID_COLUMN, schema.TARGET_COLUMN)]
    specs: dict[Rule, dict[str, Any]] = {
        Rule.COLUMNS_MATCH_CONTRACT: {  # a lower-case 'target' still makes a labelled month: one diagnosis, not two
            "columns": schema.column_names(with_target=schema.TARGET_COLUMN in map(str.upper, frame.columns))
        },
        Rule.HAS_ROWS: {"min_rows": 1},
        Rule.REQUIRED_COLUMNS_COMPLETE: {"columns": [col.name for col in features if not col.nullable]},
        Rule.LEVELS_WITHIN_CONTRACT: {"levels": {col.name: list(col.levels) for col in features if col.is_text}},
        Rule.VALUES_WITHIN_BOUNDS: {
            "bounds": {col.name: [col.low, col.high, col.sentinel] for col in features if not col.is_text}
        },
    }
    if not frame.empty:
        specs[Rule.MISSING_RATES_WITHIN_TOLERANCE] = {
            "bands": {col.name: _missing_rate_band(col.missing_rate, len(frame)) for col in features if col.nullable}
        }
    if schema.ID_COLUMN in frame.columns:
        specs[Rule.ID_PRESENT_AND_UNIQUE] = {"column": schema.ID_COLUMN}
        specs[Rule.IDS_NOT_SEEN_BEFORE] = {"column": schema.ID_COLUMN, "seen": _reused(frame, earlier_ids)}
    if schema.TARGET_COLUMN in frame.columns:
        specs[Rule.TARGET_IS_BINARY] = {"column": schema.TARGET_COLUMN, "values": [0, 1]}
    return specs


# Each rule is evaluated over the whole frame at once, column by column with vectorised pandas: one GX
# expectation per rule instead of one per column and check (GX's cost is per expectation, not per row).
Evaluation = tuple[int, list[dict[str, Any]]]  # checks made, findings


def _positions(broken: pd.Series) -> np.ndarray:
    return np.flatnonzero(broken.to_numpy())


def _line(position: Any) -> Any:
    """A row's (or array of rows') line in the landing file: the header is line 1 and the reader keeps the file's
    row order."""
    return position + 2


def _has(number: int) -> str:
    return "has" if number == 1 else "have"


def _examples(shown: list[str], total: int) -> str:
    """Up to MAX_EXAMPLES examples, '; '-separated as they may hold commas, and how many more there are."""
    more = f"; and {total - MAX_EXAMPLES:,} more" if total > MAX_EXAMPLES else ""
    return "; ".join(shown[:MAX_EXAMPLES]) + more


def _rows_breaking(frame: pd.DataFrame, column: str, broken: pd.Series, check: str, what: str) -> dict[str, Any] | None:
    """A finding for the rows where `broken` holds: '2 rows have <what>: line 5 (ID 100004): 'x'; ...'."""
    if not broken.any():
        return None
    positions = _positions(broken)
    ids = frame[schema.ID_COLUMN] if schema.ID_COLUMN in frame.columns else None
    shown = [
        f"line {_line(p)}"
        + ("" if ids is None else f" (ID {_short(ids.iat[p])})")
        + f": {_short(frame[column].iat[p])}"
        for p in positions[:MAX_EXAMPLES]
    ]
    rows = len(positions)
    return _finding(column, check, rows, f"{count(rows, 'row')} {_has(rows)} {what}: {_examples(shown, rows)}")


def _finding(column: str, check: str, unexpected: int | None, detail: str) -> dict[str, Any]:
    """A Finding as the JSON GX carries in the metric's result."""
    return asdict(Finding(column, check, unexpected, detail))


def _found(*findings: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [finding for finding in findings if finding]


def _columns_match(frame: pd.DataFrame, spec: dict[str, Any]) -> Evaluation:
    observed, expected = list(frame.columns), spec["columns"]
    if observed == expected:
        return 1, []
    return 1, [_finding(TABLE, "columns in the contract's order", None, _column_diff(expected, observed))]


def _has_rows(frame: pd.DataFrame, spec: dict[str, Any]) -> Evaluation:
    if len(frame) >= spec["min_rows"]:
        return 1, []
    # the reader refuses an empty file, so a frame without rows came from a header alone
    words = "the file has a header but no application rows" if frame.empty else f"only {count(len(frame), 'row')}"
    return 1, [_finding(TABLE, "row count", None, words)]


def _empty(frame: pd.DataFrame, column: str) -> dict[str, Any] | None:
    """'2 rows have an empty SK_ID_CURR: lines 4 and 7' (the value is empty: the lines are what helps)."""
    empty = empty_rows(frame, column)
    if not empty.any():
        return None
    lines = [_line(p) for p in _positions(empty)]
    rows = len(lines)
    return _finding(
        column, "not empty", rows, f"{count(rows, 'row')} {_has(rows)} an empty {column}: {line_numbers(lines)}"
    )


def _required_complete(frame: pd.DataFrame, spec: dict[str, Any]) -> Evaluation:
    return len(spec["columns"]), _found(*(_empty(frame, name) for name in spec["columns"]))


def _repeated(frame: pd.DataFrame, column: str) -> dict[str, Any] | None:
    """'3 IDs appear more than once: 123456 on lines 5 and 9; ...': each ID once, with all its lines."""
    ids = frame[column]
    repeated = ids.duplicated(keep=False) & ids.notna()
    if not repeated.any():
        return None
    lines = pd.Series(_line(_positions(repeated))).groupby(ids[repeated].to_numpy(), sort=False).agg(list)
    shown = [f"{_short(i)} on {line_numbers(at)}" for i, at in lines.head(MAX_EXAMPLES).items()]
    verb = "appears" if len(lines) == 1 else "appear"
    detail = f"{count(len(lines), 'ID')} {verb} more than once: {_examples(shown, len(lines))}"
    return _finding(column, "unique", int(repeated.sum()), detail)


def _id_present_and_unique(frame: pd.DataFrame, spec: dict[str, Any]) -> Evaluation:
    return 2, _found(_empty(frame, spec["column"]), _repeated(frame, spec["column"]))


def _ids_not_seen(frame: pd.DataFrame, spec: dict[str, Any]) -> Evaluation:
    """'ID 146268 (line 2) was already in 2020-09', or for several '3 IDs were already in earlier months: ...'."""
    months = dict(spec["seen"])  # ID -> the earlier month that held it, None when not known
    ids = frame[spec["column"]]
    positions = _positions(ids.isin(list(months)))
    if not len(positions):
        return 1, []
    found = [(_short(ids.iat[p]), _line(p), months[ids.iat[p]] or "an earlier month") for p in positions]
    if len(found) == 1:
        detail = "ID {} (line {}) was already in {}".format(*found[0])
    else:
        shown = [f"ID {i} (line {line}) in {month}" for i, line, month in found[:MAX_EXAMPLES]]
        detail = f"{count(len(found), 'ID')} were already in earlier months: {_examples(shown, len(found))}"
    return 1, [_finding(spec["column"], "not seen before", len(found), detail)]


def _outside_levels(frame: pd.DataFrame, column: str, levels: list[Any]) -> dict[str, Any] | None:
    outside = rows_outside_levels(frame, column, levels)
    allowed = listing([_short(level) for level in levels])
    return _rows_breaking(frame, column, outside, "in levels", f"a value outside the contract's levels ({allowed})")


def _levels_within(frame: pd.DataFrame, spec: dict[str, Any]) -> Evaluation:
    return len(spec["levels"]), _found(*(_outside_levels(frame, *item) for item in spec["levels"].items()))


def _target_binary(frame: pd.DataFrame, spec: dict[str, Any]) -> Evaluation:
    return 2, _found(_empty(frame, spec["column"]), _outside_levels(frame, spec["column"], spec["values"]))


def _values_within(frame: pd.DataFrame, spec: dict[str, Any]) -> Evaluation:
    numeric = [name for name in spec["bounds"] if pd.api.types.is_numeric_dtype(frame[name])]
    outside = cells_outside_bounds(frame, {name: spec["bounds"][name] for name in numeric})
    found = [
        _finding(name, "within bounds", None, f"could not be evaluated: {frame[name].dtype} is not numeric")
        for name in spec["bounds"]
        if name not in numeric
    ] + [
        _rows_breaking(frame, name, outside[name], "within bounds", _outside_bounds(*spec["bounds"][name]))
        for name in outside.columns[outside.any()]
    ]
    return len(spec["bounds"]), found


def empty_rows(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column].isna()


def rows_outside_levels(frame: pd.DataFrame, column: str, levels: list[Any]) -> pd.Series:
    values = frame[column]
    return values.notna() & ~values.isin(levels)


def cells_outside_bounds(frame: pd.DataFrame, bounds: dict[str, list[float | None]]) -> pd.DataFrame:
    """Per numeric column, the rows outside its [low, high] that are not its sentinel code (a missing value and a
    missing sentinel break nothing)."""
    limits = np.array([[math.nan if v is None else v for v in bounds[name]] for name in bounds], dtype="float64").T
    values = frame[list(bounds)].to_numpy(dtype="float64", na_value=np.nan)
    low, high, sentinel = np.nan_to_num(limits[0], nan=-math.inf), np.nan_to_num(limits[1], nan=math.inf), limits[2]
    with np.errstate(invalid="ignore"):
        outside = ((values < low) | (values > high)) & (values != sentinel)
    return pd.DataFrame(outside, index=frame.index, columns=list(bounds))


def row_breaches(frame: pd.DataFrame) -> Iterator[tuple[Rule, str, np.ndarray]]:
    """The rules one record can break on its own (not the month's shares or its earlier months), per column: the
    mask of the rows breaking it. The decision service answers with these; the month's suite words the same."""
    specs = rule_specs(frame, [])
    required = specs[Rule.REQUIRED_COLUMNS_COMPLETE]["columns"]
    empty = frame[required].isna().to_numpy()
    for j in np.flatnonzero(empty.any(axis=0)):
        yield Rule.REQUIRED_COLUMNS_COMPLETE, required[j], empty[:, j]
    ids = empty_rows(frame, schema.ID_COLUMN)  # repeats are the month's (or the request's) to judge, not a row's
    if ids.any():
        yield Rule.ID_PRESENT_AND_UNIQUE, schema.ID_COLUMN, ids.to_numpy()
    for name, levels in specs[Rule.LEVELS_WITHIN_CONTRACT]["levels"].items():
        outside = rows_outside_levels(frame, name, levels)
        if outside.any():
            yield Rule.LEVELS_WITHIN_CONTRACT, name, outside.to_numpy()
    outside = cells_outside_bounds(frame, specs[Rule.VALUES_WITHIN_BOUNDS]["bounds"])
    for name in outside.columns[outside.any()]:
        yield Rule.VALUES_WITHIN_BOUNDS, name, outside[name].to_numpy()


def _outside_bounds(low: float | None, high: float | None, sentinel: float | None) -> str:
    """'a value outside the contract's bounds (-36,525 to 0, or the code 365243)'."""
    if low is None or high is None:
        bounds = f"at least {_number(low)}" if high is None else f"at most {_number(high)}"
    else:
        bounds = f"{_number(low)} to {_number(high)}"
    code = "" if sentinel is None else f", or the code {_short(sentinel)}"  # a code, written as in the file
    return f"a value outside the contract's bounds ({bounds}{code})"


def _missing_rates(frame: pd.DataFrame, spec: dict[str, Any]) -> Evaluation:
    shares = frame[list(spec["bands"])].notna().mean()
    findings = [
        _finding(
            name,
            "share of non-missing values",
            None,
            f"filled in {_percent(shares[name])} of rows, the contract expects {_percent(low)} to {_percent(high)}",
        )
        for name, (low, high) in spec["bands"].items()
        if not low <= shares[name] <= high
    ]
    return len(spec["bands"]), findings


EVALUATIONS: dict[Rule, Callable[[pd.DataFrame, dict[str, Any]], Evaluation]] = {
    Rule.COLUMNS_MATCH_CONTRACT: _columns_match,
    Rule.HAS_ROWS: _has_rows,
    Rule.ID_PRESENT_AND_UNIQUE: _id_present_and_unique,
    Rule.REQUIRED_COLUMNS_COMPLETE: _required_complete,
    Rule.LEVELS_WITHIN_CONTRACT: _levels_within,
    Rule.VALUES_WITHIN_BOUNDS: _values_within,
    Rule.MISSING_RATES_WITHIN_TOLERANCE: _missing_rates,
    Rule.TARGET_IS_BINARY: _target_binary,
    Rule.IDS_NOT_SEEN_BEFORE: _ids_not_seen,
}
RULE_FINDINGS = "credit_assets.contract_rule.findings"


class ContractRuleFindings(TableMetricProvider):
    """GX metric: the checks one contract rule made over the batch and what it found."""

    metric_name = RULE_FINDINGS
    value_keys = ("rule", "spec")

    @metric_value(engine=PandasExecutionEngine)
    def _pandas(
        cls,
        execution_engine: PandasExecutionEngine,
        metric_domain_kwargs: dict,
        metric_value_kwargs: dict,
        metrics: dict[str, Any],
        runtime_configuration: dict,
    ) -> dict[str, Any]:
        frame, _, _ = execution_engine.get_compute_domain(metric_domain_kwargs, domain_type=MetricDomainTypes.TABLE)
        checks, findings = EVALUATIONS[Rule(metric_value_kwargs["rule"])](frame, metric_value_kwargs["spec"])
        return {"checks": checks, "findings": findings}


class ExpectMonthToKeepContractRule(BatchExpectation):
    """Expect the month's applications to keep one rule of the data contract."""

    rule: str
    spec: dict

    metric_dependencies = (RULE_FINDINGS,)
    success_keys = ("rule", "spec")

    def _validate(
        self,
        metrics: dict[str, Any],
        runtime_configuration: dict | None = None,
        execution_engine: ExecutionEngine | None = None,
    ) -> dict[str, Any]:
        observed = metrics[RULE_FINDINGS]
        return {"success": not observed["findings"], "result": {"observed_value": observed}}


def build_expectations(frame: pd.DataFrame, earlier_ids: Iterable[int]) -> list[ExpectMonthToKeepContractRule]:
    """One expectation per contract rule that applies to this frame."""
    return [
        ExpectMonthToKeepContractRule(rule=rule.value, spec=spec)
        for rule, spec in rule_specs(frame, earlier_ids).items()
    ]


def _outcome(result: ExpectationValidationResult) -> RuleOutcome:
    rule = Rule(result.expectation_config.kwargs["rule"])
    raised = _raised_message(result)
    if raised:
        return RuleOutcome(rule, 0, [Finding(TABLE, "evaluated", None, f"could not be evaluated: {raised}")])
    observed = result.result["observed_value"]
    return RuleOutcome(rule, observed["checks"], [Finding(**finding) for finding in observed["findings"]])


def _column_diff(expected: list[str], observed: list[str]) -> str:
    missing = [name for name in expected if name not in observed]
    extra = [name for name in observed if name not in expected]
    if missing or extra:
        return _names_diff(missing, extra, all(name == name.lower() for name in observed))
    first = next(i for i, (a, b) in enumerate(zip(expected, observed, strict=False)) if a != b)
    return f"same columns, wrong order: position {first + 1} holds {observed[first]}, contract says {expected[first]}"


def _names_diff(missing: list[str], extra: list[str], lower_case_header: bool) -> str:
    """Missing and unexpected columns in words, long lists summarised; names that differ only in case said so
    (a lower-case header would otherwise list every column twice)."""
    in_file = {name.upper(): name for name in extra}
    recased = [name for name in missing if name in in_file]
    missing = [name for name in missing if name not in in_file]
    extra = [name for name in extra if name.upper() not in recased]
    parts = [
        f"{count(len(missing), 'contract column')} {_is(missing)} missing: {listing(missing)}" if missing else "",
        f"{count(len(extra), 'column')} {_is(extra)} not in the contract: {listing(extra)}" if extra else "",
    ]
    if recased and lower_case_header:
        parts.insert(0, f"the header is lower-case: the contract's column names are upper-case (e.g. {recased[0]})")
    elif recased:
        names = [f"{in_file[name]} should be {name}" for name in recased]
        parts.insert(0, f"{count(len(recased), 'column name')} {_is(recased)} in the wrong case: {listing(names)}")
    return "; ".join(filter(None, parts))


def _is(names: list[str]) -> str:
    return "is" if len(names) == 1 else "are"


def _raised_message(result: ExpectationValidationResult) -> str | None:
    info = result.exception_info or {}
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    nested = [value for value in info.values() if isinstance(value, dict) and value.get("raised_exception", True)]
    return str(nested[0].get("exception_message")) if nested else None


def _number(value: object, digits: int = 10) -> str:
    """A figure as people write it: 10,000,000,000; -25,229; 0.5 (no trailing .0, no float noise). Whole numbers
    are exact (a bound of 2,147,483,647 must not read as a rounder one); fractions keep `digits` significant ones."""
    if value is None:
        return "none"
    number = float(value)
    if number.is_integer():
        return f"{int(number):,}"
    return f"{float(f'{number:.{digits}g}'):,}"


def _percent(share: float) -> str:
    return f"{_number(100 * share, 3)}%"


def _short(value: object) -> str:
    """A value as the file holds it (what a search of the file finds): text quoted, a whole number without '.0'
    (an integer column with an empty cell arrives as floats), cut at 120 characters."""
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 120 else text[:117] + "..."


def known_ids(id_columns: Iterable[pd.Series]) -> np.ndarray:
    """Every SK_ID_CURR of the given earlier months, once."""
    arrays = [column.to_numpy() for column in id_columns]
    return np.unique(np.concatenate(arrays)) if arrays else np.array([], dtype="int64")


def ids_before(month: str, months: Iterable[str], read_ids: Callable[[str], pd.Series]) -> pd.Series:
    """Every SK_ID_CURR of the stored months before `month` (the leakage rule's reference set), once, indexed by the
    first month that held it so that a leak can name it."""
    earlier = sorted(key for key in months if key < month)
    held = [read_ids(key).to_numpy() for key in earlier]
    if not held:
        return pd.Series([], dtype="int64")
    ids = pd.Series(np.concatenate(held), index=np.repeat(earlier, [len(ids) for ids in held]))
    return ids.drop_duplicates()


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


def validate(frame: pd.DataFrame, earlier_ids: Iterable[int]) -> list[RuleOutcome]:
    """Run the contract's GX suite (one expectation per rule) on one month's frame: an outcome for every rule."""
    suite = gx.ExpectationSuite(name="application_contract", expectations=build_expectations(frame, earlier_ids))
    with _month_batch(frame) as batch:
        results = batch.validate(suite, result_format="SUMMARY").results
    outcomes = {rule: RuleOutcome(rule) for rule in Rule}
    outcomes.update((outcome.rule, outcome) for outcome in map(_outcome, results))
    return list(outcomes.values())
