"""The upload pre-check gives the pipeline's own verdicts and messages, without Dagster and before anything lands."""

import shutil
from pathlib import Path

import pandas as pd
import pytest

from credit_assets.core.contract import schema
from credit_assets.core.contract.precheck import precheck
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


# every file the reader refuses, and one per kind of GX rule (the pipeline's tests cover every rule)
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
]


@pytest.mark.parametrize("kind", KINDS)
def test_bad_files_fails_with_the_pipelines_words(kind: str, month_file: Path) -> None:
    break_file, words = BAD_FILES[kind]
    break_file(month_file)
    result = precheck(month_file, [])
    assert not result.passed
    message = "\n".join(map(str, result.problems))
    for word in words:
        assert word in message


def test_ids_of_earlier_months_are_leakage(month_file: Path, small_landing: Path) -> None:
    reused = history_ids(small_landing)[0]
    set_value(schema.ID_COLUMN, 0, str(reused))(month_file)
    result = precheck(month_file, history_ids(small_landing))
    assert [problem.rule for problem in result.problems] == ["ids_not_seen_before"]
    assert str(reused) in result.problems[0].detail
