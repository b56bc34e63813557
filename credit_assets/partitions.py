"""Monthly partitions and the landing-file naming convention that maps files to them."""

import re

import dagster as dg

# The first partition holds the history: every application before the first monthly file.
FIRST_MONTH = "2020-09"
monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=FIRST_MONTH, fmt="%Y-%m")

LANDING_FILE_PATTERN = re.compile(r"applications_(\d{4}-(0[1-9]|1[0-2]))\.csv")


def landing_file_name(month: str) -> str:
    """The landing file name for a month key such as '2020-10'."""
    return f"applications_{month}.csv"


def month_of_landing_file(name: str) -> str | None:
    """The month key a landing file name stands for, or None when the name does not fit the convention."""
    match = LANDING_FILE_PATTERN.fullmatch(name)
    return match.group(1) if match else None


def months_between(earlier: str, later: str) -> int:
    """Whole months from `earlier` to `later` (month keys 'YYYY-MM')."""
    (y1, m1), (y2, m2) = (map(int, earlier.split("-")), map(int, later.split("-")))
    return (y2 - y1) * 12 + (m2 - m1)


def previous_month(month: str) -> str:
    """The month key before `month`."""
    year, number = map(int, month.split("-"))
    return f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}"


# One run per month in backfills: every month passes its own blocking checks and fails alone, and a month's
# model reads the features of the months before it, so months are materialised in order, not as one range.
ONE_MONTH_PER_RUN = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
