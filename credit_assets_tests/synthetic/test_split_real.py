"""The real-file splitter: the article's row ranges, byte-faithful landing files and clear refusals."""

from pathlib import Path

import pytest

from credit_assets.cli import main
from credit_assets.core.contract import schema
from credit_assets.core.months import FIRST_MONTH, landing_file_name
from credit_assets.synthetic.generate import generate_applications
from credit_assets.synthetic.split_real import SourceFileError, month_row_ranges, split_real

MONTHS = [FIRST_MONTH, "2020-10", "2020-11", "2020-12", "2021-01"]
HEADER = ",".join(schema.column_names()) + "\n"


@pytest.fixture
def fake_real_file(tmp_path: Path) -> Path:
    """A small application_train.csv from generated rows, with number formats pandas would not write back."""
    frame, _ = generate_applications(260, seed=1)
    path = tmp_path / "application_train.csv"
    frame.to_csv(path, index=False, float_format="%.4f", lineterminator="\r\n")
    return path


def data_lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)[1:]


def test_month_row_ranges_are_the_articles_split():
    assert month_row_ranges(schema.REAL_ROW_COUNT) == [
        ("2020-09", 0, 267_511),
        ("2020-10", 267_511, 277_511),
        ("2020-11", 277_511, 287_511),
        ("2020-12", 287_511, 297_511),
        ("2021-01", 297_511, 307_511),
    ]


def test_split_copies_header_and_lines_byte_for_byte(fake_real_file: Path, tmp_path: Path):
    paths = split_real(fake_real_file, tmp_path / "landing", any_size=True, block_rows=50)
    source_header = fake_real_file.read_bytes().splitlines(keepends=True)[0]
    source_lines = data_lines(fake_real_file)
    assert [path.name for path in paths] == [landing_file_name(month) for month in MONTHS]
    assert [len(data_lines(path)) for path in paths] == [60, 50, 50, 50, 50]
    assert all(path.read_bytes().startswith(source_header) for path in paths)
    assert b"".join(line for path in paths for line in data_lines(path)) == b"".join(source_lines)
    assert b".0000\r\n" in paths[-1].read_bytes()  # kept as written, not re-formatted, with its line ends
    assert not list((tmp_path / "landing").glob("*.tmp"))


def test_split_of_a_real_sized_file_without_override(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    source = tmp_path / "application_train.csv"
    source.write_text(HEADER + "".join(f"row {index}\n" for index in range(schema.REAL_ROW_COUNT)))
    assert main(["split-real", str(source), "--landing-dir", str(tmp_path / "landing")]) == 0
    written = [Path(line) for line in capsys.readouterr().out.split()]
    assert [path.name for path in written] == [landing_file_name(month) for month in MONTHS]
    history, *monthly = (path.read_text().splitlines() for path in written)
    assert (len(history), history[1], history[-1]) == (267_512, "row 0", "row 267510")
    assert [(len(lines), lines[1]) for lines in monthly] == [
        (10_001, "row 267511"),
        (10_001, "row 277511"),
        (10_001, "row 287511"),
        (10_001, "row 297511"),
    ]
    assert monthly[-1][0] == HEADER.strip() and schema.TARGET_COLUMN in monthly[-1][0]


def test_refuses_a_file_of_another_size_without_override(fake_real_file: Path, tmp_path: Path):
    with pytest.raises(SourceFileError, match=f"{fake_real_file}.*260 rows.*any_size"):
        split_real(fake_real_file, tmp_path / "landing")
    assert not (tmp_path / "landing").exists()


def test_refuses_a_file_too_small_for_the_monthly_blocks(fake_real_file: Path, tmp_path: Path):
    with pytest.raises(SourceFileError, match="no history.*--rows-per-month"):
        split_real(fake_real_file, tmp_path / "landing", any_size=True)


def test_a_sample_of_the_real_file_splits_with_the_rows_per_month_it_is_given(
    fake_real_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    landing = tmp_path / "landing"
    arguments = ["split-real", str(fake_real_file), "--landing-dir", str(landing), "--any-size"]
    assert main([*arguments, "--rows-per-month", "40", "--months", "3"]) == 0
    written = [Path(line) for line in capsys.readouterr().out.split()]
    assert [path.name for path in written] == [landing_file_name(month) for month in MONTHS[:4]]
    assert [len(data_lines(path)) for path in written] == [140, 40, 40, 40]
    assert b"".join(line for path in written for line in data_lines(path)) == b"".join(data_lines(fake_real_file))


def test_refuses_a_file_without_the_contract_header(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    source = tmp_path / "application_test.csv"
    source.write_text(",".join(schema.column_names(with_target=False)) + "\n1\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["split-real", str(source), "--landing-dir", str(tmp_path / "landing"), "--any-size"])
    message = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert str(source) in message and "'NAME_CONTRACT_TYPE' where 'TARGET' belongs" in message
