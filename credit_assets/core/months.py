"""Month keys ('YYYY-MM') and the landing-file naming convention that maps files to them."""

import os
import re

import pandas as pd

LANDING_FILE_PATTERN = re.compile(r"applications_(\d{4}-(0[1-9]|1[0-2]))\.csv")
FIRST_MONTH_SETTING = "CREDIT_ASSETS_FIRST_MONTH"
# The month of the real file's split and of the tests; the demo sets a recent one so that its months are the newest.
DEFAULT_FIRST_MONTH = "2020-09"


def landing_file_name(month: str) -> str:
    """The landing file name for a month key such as '2020-10'."""
    return f"applications_{month}.csv"


def month_of_landing_file(name: str) -> str | None:
    """The month key a landing file name stands for, or None when the name does not fit the convention."""
    match = LANDING_FILE_PATTERN.fullmatch(name)
    return match.group(1) if match else None


def checked_month(month: str, what: str = "month") -> str:
    """`month` when it is a month key such as '2020-10'; a ValueError naming `what` otherwise."""
    if month_of_landing_file(landing_file_name(month)) != month:
        raise ValueError(f"{what} must look like YYYY-MM, not {month!r}")
    return month


# The first month holds the history: every application before the first monthly file. Every process of the project
# (definitions, daemon, run workers, portal, command line) reads it here, so they agree on the partitions.
FIRST_MONTH = checked_month(os.environ.get(FIRST_MONTH_SETTING, DEFAULT_FIRST_MONTH), FIRST_MONTH_SETTING)


def history_note(month: str) -> str:
    """What the history month is, for anyone who expects it to be scored."""
    return f"{month} is the history month: it is kept for training and never scored"


def month_sequence(first_month: str, count: int) -> list[str]:
    """`count` consecutive month keys starting at `first_month`."""
    start = pd.Period(checked_month(first_month), freq="M")
    return [str(start + offset) for offset in range(count)]


def months_between(earlier: str, later: str) -> int:
    """Whole months from `earlier` to `later`."""
    (y1, m1), (y2, m2) = (map(int, earlier.split("-")), map(int, later.split("-")))
    return (y2 - y1) * 12 + (m2 - m1)


def first_day_after(month: str) -> str:
    """The ISO date of the first day after `month` (when a closed month is scored at the earliest)."""
    return f"{month_sequence(month, 2)[1]}-01"


def previous_month(month: str) -> str:
    """The month key before `month`."""
    year, number = map(int, month.split("-"))
    return f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}"
