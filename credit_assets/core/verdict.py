"""What a check concludes, independent of the orchestrator that reports it."""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    WARN = "WARN"
    ERROR = "ERROR"


@dataclass(frozen=True)
class Verdict:
    """A check's outcome: passed or not, how bad, in words, with the figures behind it."""

    passed: bool
    description: str
    severity: Severity = Severity.ERROR
    figures: dict[str, Any] = field(default_factory=dict)
