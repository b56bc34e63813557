"""Split the real `application_train.csv` into landing files the way the article did (its "seed split").

No shuffling: rows stay in file order. Every row before the last four blocks of 10,000 forms the history
(month FIRST_MONTH, 267,511 rows for the real file); each block is one following month, and the last block
keeps TARGET so the forecast month can be evaluated honestly. A sample of the real file is split the same
way with smaller blocks (`rows_per_month`) and, if wanted, another number of months. Lines are copied byte
for byte, never re-formatted through pandas. The real file has no line breaks inside quoted fields, so a line is a row.
"""

from functools import partial
from itertools import zip_longest
from pathlib import Path

from credit_assets.core.blobs import atomic_write
from credit_assets.core.contract import schema
from credit_assets.core.months import FIRST_MONTH, landing_file_name, month_sequence

MONTHLY_BLOCKS = 4
BLOCK_ROWS = 10_000


class SourceFileError(ValueError):
    """The file to split is not the real application_train.csv."""


def month_row_ranges(
    total_rows: int, block_rows: int = BLOCK_ROWS, months: int = MONTHLY_BLOCKS
) -> list[tuple[str, int, int]]:
    """(month, first row, row after the last) of the history and each monthly block, rows counted from 0."""
    if block_rows < 1 or months < 1:
        raise SourceFileError(f"rows per month ({block_rows}) and months ({months}) must be at least 1")
    history_rows = total_rows - months * block_rows
    if history_rows < 1:
        raise SourceFileError(
            f"{total_rows:,} rows leave no history before {months} x {block_rows:,} rows: "
            "choose fewer rows per month (--rows-per-month) or fewer months (--months)"
        )
    stops = [history_rows + block * block_rows for block in range(months + 1)]
    return list(zip(month_sequence(FIRST_MONTH, months + 1), [0, *stops[:-1]], stops, strict=True))


def split_real(
    source: Path,
    landing_dir: Path,
    *,
    any_size: bool = False,
    block_rows: int = BLOCK_ROWS,
    months: int = MONTHLY_BLOCKS,
) -> list[Path]:
    """Write the history and monthly landing files cut from `source`; return their paths, oldest first.

    `source` must carry the contract header and exactly REAL_ROW_COUNT rows; with `any_size` (a sample of the
    real file) any row count is accepted. The history is every row before the last `months` x `block_rows` rows.
    """
    source = Path(source)
    lines = source.read_bytes().splitlines(keepends=True)
    if not lines:
        raise SourceFileError(f"{source} is empty")
    header, rows = lines[0], lines[1:]
    _check_header(source, header)
    if not any_size and len(rows) != schema.REAL_ROW_COUNT:
        raise SourceFileError(
            f"{source} has {len(rows):,} rows, the real application_train.csv has {schema.REAL_ROW_COUNT:,}; "
            "pass any_size (--any-size) to split a file of another size"
        )
    written = []
    for month, start, stop in month_row_ranges(len(rows), block_rows, months):
        path = Path(landing_dir) / landing_file_name(month)
        atomic_write(path, partial(Path.write_bytes, data=header + b"".join(rows[start:stop])))
        written.append(path)
    return written


def _check_header(source: Path, header: bytes) -> None:
    """Refuse a header that is not the labelled contract's, naming the first column that differs."""
    names = header.rstrip(b"\r\n").decode("utf-8", errors="replace").split(",")
    expected = schema.column_names(with_target=True)
    if names != expected:
        got, want = next(pair for pair in zip_longest(names, expected) if pair[0] != pair[1])
        raise SourceFileError(
            f"{source} does not start with the contract header of {len(expected)} columns: "
            f"found {len(names)} columns, {got!r} where {want!r} belongs"
        )
