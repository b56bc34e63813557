"""The upload pre-check: a landing file read and validated exactly as the pipeline would, before it is landed."""

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from credit_assets.core.contract import quality
from credit_assets.core.contract.landing import LandingFileError, read_landing_csv


@dataclass(frozen=True)
class Problem:
    """One broken rule: the column (or "(file)"), the rule and what was found, with example rows."""

    column: str
    rule: str
    detail: str

    def __str__(self) -> str:
        where = "" if self.column == quality.TABLE else f"column {self.column}: "
        return f"{where}rule '{self.rule}' broken: {self.detail}"


@dataclass(frozen=True)
class PrecheckResult:
    file_name: str
    rows: int | None  # None when the file could not even be read
    problems: tuple[Problem, ...]
    seconds: float

    @property
    def passed(self) -> bool:
        return not self.problems


def precheck(path: Path, earlier_ids: Iterable[int]) -> PrecheckResult:
    """Read the file with the contract's reader and run the contract's GX suite: the pipeline's messages, at once."""
    started = time.perf_counter()
    try:
        frame = read_landing_csv(path)
    except LandingFileError as error:
        problem = Problem(error.column or quality.TABLE, error.rule, error.detail)
        return PrecheckResult(path.name, None, (problem,), time.perf_counter() - started)
    problems = tuple(
        Problem(finding.column, outcome.rule.value, finding.detail)
        for outcome in quality.validate(frame, earlier_ids)
        for finding in outcome.findings
    )
    return PrecheckResult(path.name, len(frame), problems, time.perf_counter() - started)
