"""`credit-assets models --month` refuses, with the reason, a month no model can have scored."""

from pathlib import Path

import pytest

from credit_assets.cli import main
from credit_assets.core.months import FIRST_MONTH
from credit_assets.defs.partitions import monthly_partitions


@pytest.mark.parametrize(
    ("month", "reason"),
    [
        (FIRST_MONTH, "2020-09 is the history month: it is kept for training and never scored"),
        ("2021-1", "month must look like YYYY-MM, not '2021-1'"),
        ("2019-12", "2019-12 is not a month of the partitions, 2020-09 to "),
        ("2999-01", "2999-01 is not a month of the partitions, 2020-09 to "),
    ],
)
def test_models_names_why_a_month_has_no_model(
    month: str, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_status:
        main(["models", "--root", str(tmp_path), "--month", month])
    assert exit_status.value.code == 2
    error = capsys.readouterr().err
    assert reason in error and "materialise model" not in error


def test_models_asks_for_the_model_of_a_month_that_has_none_yet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    month = monthly_partitions.get_partition_keys()[1]
    with pytest.raises(SystemExit):
        main(["models", "--root", str(tmp_path), "--month", month])
    assert f"materialise model for {month} first" in capsys.readouterr().err
