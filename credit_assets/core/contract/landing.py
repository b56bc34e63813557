"""Reading a landing CSV against the contract: typed when it fits, else an error naming file, column, rule, rows."""

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from credit_assets.core.contract import schema

UTF8_BOM = b"\xef\xbb\xbf"
MAX_EXAMPLES = 5
UTF8_CHECK_CHUNK = 1 << 24  # checked in 16 MiB pieces: decoding a whole history file at once doubles its memory
_ARROW_TYPES = {"int64": pa.int64(), "float64": pa.float64(), "object": pa.string()}
# Files that are not CSV text, known by their first bytes: what they are and what to do instead. An .xlsx is a zip
# whose first members' names (stored in the clear) are [Content_Types].xml or xl/..., so it is tested before a zip.
_EXCEL = "this is an Excel workbook, not CSV text: export it as CSV"
_PACKED = (
    (lambda head: head.startswith(b"\x1f\x8b"), "the file is gzip-compressed, not CSV text: unpack it first"),
    (lambda head: head.startswith(b"PK\x03\x04") and (b"xl/" in head or b"[Content_Types].xml" in head), _EXCEL),
    (lambda head: head.startswith(b"PK\x03\x04"), "the file is a zip archive, not CSV text: unpack it first"),
    (lambda head: head.startswith(b"\xd0\xcf\x11\xe0"), _EXCEL),  # the older .xls format
)
PACKED_HEAD = 1 << 12  # an .xlsx names its xl/ members within its first few hundred bytes


class LandingFileError(ValueError):
    """A landing file that cannot become a typed table; the message names the file, column, rule and rows."""

    def __init__(self, name: str, rule: str, detail: str, column: str | None = None) -> None:
        self.name, self.rule, self.detail, self.column = name, rule, detail, column
        where = f", column {column}" if column else ""
        super().__init__(f"{name}{where}: rule '{rule}' broken: {detail}")


@dataclass(frozen=True)
class Example:
    """One offending row: its line in the file, its SK_ID_CURR (when readable) and the value."""

    line: int
    sk_id_curr: str
    value: str

    def __str__(self) -> str:
        return f"line {self.line} (ID {self.sk_id_curr}): {self.value!r}"


def count(number: int, noun: str) -> str:
    """'1 row', '1,500 rows': a count as people write it, with its noun agreeing."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def listing(items: list[str], limit: int = MAX_EXAMPLES) -> str:
    """'a', 'a and b', 'a, b, c, d, e and 25 more': a list in words, the first `limit` items shown."""
    if not items:
        return "none"
    if len(items) > limit:
        return ", ".join(items[:limit]) + f" and {len(items) - limit:,} more"
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def line_numbers(lines: list[int]) -> str:
    """'line 4', 'lines 4 and 7'."""
    return ("line " if len(lines) == 1 else "lines ") + listing([str(line) for line in lines])


def read_landing_csv(path: Path) -> pd.DataFrame:
    """Read a local landing CSV with the contract's dtypes; columns outside the contract are kept as text."""
    return parse_landing_csv(path.name, path.read_bytes())


def parse_landing_csv(file_name: str, data: bytes) -> pd.DataFrame:
    """A landing file's bytes as a frame with the contract's dtypes; errors name the file by `file_name`."""
    _check_bytes(file_name, data)
    header = _read_header(file_name, data)
    column_types = {
        name: _ARROW_TYPES[schema.column(name).dtype] if _in_contract(name) else pa.string() for name in header
    }
    try:
        table = _read_arrow(data, column_types)
    except pa.ArrowInvalid as error:
        raise _diagnose(file_name, data, header, error) from error
    return table.to_pandas(self_destruct=True)  # frees each Arrow column once converted


def _in_contract(name: str) -> bool:
    return name in schema.column_names()


def _read_arrow(data: bytes, column_types: dict[str, pa.DataType]) -> pa.Table:
    convert = pacsv.ConvertOptions(
        column_types=column_types, null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=True
    )
    return pacsv.read_csv(io.BytesIO(data), convert_options=convert)


def _check_bytes(file_name: str, data: bytes) -> None:
    if not data.strip():
        raise LandingFileError(file_name, "file has a header and rows", "the file is empty (0 bytes of content)")
    if data.startswith(UTF8_BOM):
        raise LandingFileError(
            file_name, "UTF-8 without byte-order mark", "the file starts with a UTF-8 BOM; save it without"
        )
    packed = next((words for known, words in _PACKED if known(data[:PACKED_HEAD])), None)
    if packed:  # looking at the first bytes costs nothing; an archive would fail later in words naming a byte
        raise LandingFileError(file_name, "plain CSV text", packed)
    try:
        _check_utf8(data)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        byte = data[error.start]
        raise LandingFileError(
            file_name,
            "UTF-8 text",
            f"line {line} holds the byte 0x{byte:02x}, which is not UTF-8 text: save the file as UTF-8",
        ) from error


def _check_utf8(data: bytes) -> None:
    """Raise UnicodeDecodeError (positions in `data`) unless the bytes are UTF-8, without holding a decoded copy."""
    decoder, view = codecs.getincrementaldecoder("utf-8")(), memoryview(data)
    try:
        for start in range(0, len(data), UTF8_CHECK_CHUNK):
            decoder.decode(view[start : start + UTF8_CHECK_CHUNK], final=start + UTF8_CHECK_CHUNK >= len(data))
    except UnicodeDecodeError:
        data.decode("utf-8")  # the bad file only: decoded whole for the error's exact position
        raise


def _read_header(file_name: str, data: bytes) -> list[str]:
    first_line = data.split(b"\n", 1)[0].decode("utf-8").rstrip("\r")
    header = next(csv.reader([first_line]))
    if len(header) == 1 and any(sep in first_line for sep in ";\t|"):
        raise LandingFileError(file_name, "comma-separated", f"the header has one field only: {first_line[:80]!r}...")
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise LandingFileError(file_name, "unique column names", f"repeated in the header: {duplicates}")
    return header


def _diagnose(file_name: str, data: bytes, header: list[str], error: pa.ArrowInvalid) -> LandingFileError:
    """Find the first column and rows that keep the file from being read with the contract's dtypes."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))[1:]
    repeated = _repeated_header_lines(rows, header)
    if repeated:  # two files joined: the second's header is a ragged row or text in a number column, said plainly
        verb = "repeats" if len(repeated) == 1 else "repeat"
        return LandingFileError(
            file_name, "one header line", f"{line_numbers(repeated)} {verb} the header (files joined?): remove it"
        )
    ragged = [(line, row) for line, row in enumerate(rows, start=2) if len(row) != len(header)]
    if ragged:
        line, row = ragged[0]
        more = f"; {len(ragged) - 1:,} more rows differ too" if len(ragged) > 1 else ""
        return LandingFileError(
            file_name,
            "every row has the header's number of fields",
            f"line {line} has {len(row)} fields where the header has {len(header)} (a truncated or broken line){more}",
        )
    text = pd.DataFrame(rows, columns=header, dtype="str").replace("", pd.NA)
    for name in header:
        if _in_contract(name) and not schema.column(name).is_text:
            problem = _type_problem(text, name)
            if problem:
                return LandingFileError(file_name, problem[0], problem[1], column=name)
    return LandingFileError(file_name, "readable CSV", str(error))


def _repeated_header_lines(rows: list[list[str]], header: list[str]) -> list[int]:
    """The lines that are the header again: mostly the header's names, with or without an extra field."""
    names = set(header)
    return [line for line, row in enumerate(rows, start=2) if 2 * sum(field in names for field in row) > len(header)]


def _type_problem(text: pd.DataFrame, name: str) -> tuple[str, str] | None:
    values = text[name]
    numbers = pd.to_numeric(values, errors="coerce")
    bad = values.notna() & numbers.isna()
    rule, kind = f"numeric ({schema.column(name).dtype})", "a number"
    if not bad.any() and schema.column(name).dtype == "int64":
        bad = numbers.notna() & (numbers % 1 != 0)
        rule, kind = "whole numbers (int64)", "a whole number"
    if not bad.any():
        return None
    ids = text.get(schema.ID_COLUMN, pd.Series("?", index=text.index))
    examples = [Example(int(i) + 2, str(ids[i]), str(values[i])) for i in bad[bad].index[:MAX_EXAMPLES]]
    verb = "is" if bad.sum() == 1 else "are"
    return rule, f"{count(int(bad.sum()), 'value')} {verb} not {kind}: " + "; ".join(map(str, examples))


def labels_added(name: str, data: bytes, stored_ids: pd.Series, stored_columns: list[str]) -> bool:
    """Whether a landing file holds exactly the applications already stored for its month, now with TARGET, where
    the stored month had none: the month's labels landing, not a new or corrected month. False for any file that
    does not read as a CSV with SK_ID_CURR (the pipeline then reports what is wrong with it)."""
    if schema.TARGET_COLUMN in stored_columns:
        return False
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            convert_options=pacsv.ConvertOptions(
                include_columns=[schema.ID_COLUMN], column_types={schema.ID_COLUMN: pa.int64()}
            ),
        )
        header = _read_header(name, data[: 1 << 16])
    except (pa.ArrowInvalid, LandingFileError, UnicodeDecodeError):
        return False
    ids = table.column(schema.ID_COLUMN).to_numpy(zero_copy_only=False)
    return schema.TARGET_COLUMN in header and sorted(ids.tolist()) == sorted(stored_ids.tolist())
