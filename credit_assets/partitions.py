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
