"""The upload pre-check gives the pipeline's own verdicts and messages, without Dagster and before anything lands."""

import shutil
from pathlib import Path

import pandas as pd
import pytest

from credit_assets.core.contract import quality, schema
from credit_assets.core.contract.precheck import PrecheckResult, precheck
from credit_assets.core.months import landing_file_name
from credit_assets_tests.support.bad_files import BAD_FILES, set_value
from credit_assets_tests.support.materialise import MONTHS

HISTORY, FIRST = MONTHS[0], MONTHS[1]


def history_ids(small_landing: Path) -> list[int]:
    history = pd.read_csv(small_landing / landing_file_name(HISTORY), usecols=[schema.ID_COLUMN])
    return history[schema.ID_COLUMN].tolist()


@pytest.fixture
def month_file(tmp_path: Path, small_landing: Path) -> Path:
    """A private copy of a good monthly file under its landing name."""
    return Path(shutil.copy(small_landing / landing_file_name(FIRST), tmp_path / landing_file_name(FIRST)))


def test_a_good_month_passes(month_file: Path, small_landing: Path) -> None:
    result = precheck(month_file, history_ids(small_landing))
    assert result.passed and result.problems == ()
    assert result.rows == len(pd.read_csv(month_file, usecols=[schema.ID_COLUMN]))
    assert result.file_name == landing_file_name(FIRST)


# every file the reader refuses, one per kind of GX rule (the pipeline's tests cover every rule) and every refusal
# whose words issue 25 made plain
KINDS = [
    "empty file",
    "wrong delimiter",
    "undecodable bytes",
    "utf-8 bom",
    "text in numeric column",
    "truncated last line",
    "non-integer in int column",
    "missing column",
    "unknown level",
    "TARGET outside {0,1}",
    "gzip-compressed",
    "zip archive",
    "Excel workbook",
    "empty SK_ID_CURR",
    "header only",
    "repeated header",
    "repeated header, one field more",
    "lower-case header",
    "many columns missing",
    "three repeated SK_ID_CURR",
    "amount above its bound",
]


@pytest.mark.parametrize("kind", KINDS)
def test_bad_files_fails_with_the_pipelines_words(kind: str, month_file: Path) -> None:
    break_file, words = BAD_FILES[kind]
    break_file(month_file)
    message = refusal(precheck(month_file, []))
    for word in words:
        assert word in message


def refusal(result: PrecheckResult) -> str:
    assert not result.passed
    return "\n".join(map(str, result.problems))


def test_repeated_ids_are_named_once_each_with_their_lines(month_file: Path) -> None:
    ids = pd.read_csv(month_file, usecols=[schema.ID_COLUMN])[schema.ID_COLUMN]
    BAD_FILES["three repeated SK_ID_CURR"][0](month_file)
    expected = "; ".join(f"{ids[row]} on lines {row + 2} and {row + 6}" for row in (3, 4, 5))
    assert f"3 IDs appear more than once: {expected}" in refusal(precheck(month_file, []))


def test_bounds_are_written_as_people_write_numbers(month_file: Path) -> None:
    BAD_FILES["amount above its bound"][0](month_file)
    message = refusal(precheck(month_file, []))
    assert "(0 to 10,000,000,000)" in message and ": 20000000000" in message
    assert "10000000000.0" not in message and "e+10" not in message


def test_ids_of_earlier_months_are_leakage(month_file: Path, small_landing: Path) -> None:
    reused = history_ids(small_landing)[0]
    set_value(schema.ID_COLUMN, 0, str(reused))(month_file)
    result = precheck(month_file, history_ids(small_landing))
    assert [problem.rule for problem in result.problems] == ["ids_not_seen_before"]
    assert result.problems[0].detail == f"ID {reused} (line 2) was already in an earlier month"


def test_leakage_names_the_earlier_month_when_known(month_file: Path, small_landing: Path) -> None:
    history = pd.Series(history_ids(small_landing))
    set_value(schema.ID_COLUMN, 3, str(history[5]))(month_file)
    set_value(schema.ID_COLUMN, 0, str(history[0]))(month_file)
    earlier = quality.ids_before(FIRST, [HISTORY, FIRST], lambda month: history)
    [problem] = precheck(month_file, earlier).problems
    assert problem.detail == (
        f"2 IDs were already in earlier months: ID {history[0]} (line 2) in {HISTORY}; "
        f"ID {history[5]} (line 5) in {HISTORY}"
    )
