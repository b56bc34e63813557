"""Landing files broken in every way the reader and the GX suite must catch, with the words a user must see."""

import gzip
import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd


def edit_csv(edit: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    def apply(path: Path) -> None:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        edit(frame).to_csv(path, index=False)

    return apply


def set_value(column: str, row: int, value: str) -> Callable[[Path], None]:
    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[row, column] = value
        return frame

    return edit_csv(edit)


def change_bytes(change: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(change(path.read_bytes()))


def zipped(*members: str) -> Callable[[Path], None]:
    """The file packed into a zip archive as its last member, the others empty (an .xlsx is a zip whose small
    first member is [Content_Types].xml and whose sheets lie under xl/)."""

    def pack(data: bytes) -> bytes:
        packed = io.BytesIO()
        with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
            for member in members[:-1]:
                archive.writestr(member, b"")
            archive.writestr(members[-1], data)
        return packed.getvalue()

    return change_bytes(pack)


def with_line(index: int, line: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    """Insert a line (made from the header) so that it becomes line `index` + 1 of the file."""

    def insert(data: bytes) -> bytes:
        lines = data.split(b"\n")
        return b"\n".join([*lines[:index], line(lines[0]), *lines[index:]])

    return change_bytes(insert)


def lower_case_header(data: bytes) -> bytes:
    header, rows = data.split(b"\n", 1)
    return header.lower() + b"\n" + rows


def repeat_ids(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows 7, 8, 9 (lines 9, 10, 11) get the IDs of rows 3, 4, 5 (lines 5, 6, 7)."""
    frame.loc[[7, 8, 9], "SK_ID_CURR"] = frame.loc[[3, 4, 5], "SK_ID_CURR"].to_numpy()
    return frame


# kind -> (how the good file is broken, words the user must see: file, column, rule)
BAD_FILES: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "empty file": (lambda p: p.write_bytes(b""), ["empty"]),
    "header only": (
        change_bytes(lambda b: b.split(b"\n", 1)[0] + b"\n"),
        ["has_rows", "the file has a header but no application rows"],
    ),
    "missing column": (
        edit_csv(lambda f: f.drop(columns="AMT_CREDIT")),
        ["columns_match_contract", "1 contract column is missing: AMT_CREDIT"],
    ),
    "extra column": (
        edit_csv(lambda f: f.assign(NEW_COLUMN="1")),
        ["columns_match_contract", "1 column is not in the contract: NEW_COLUMN"],
    ),
    "renamed column": (
        edit_csv(lambda f: f.rename(columns={"AMT_ANNUITY": "ANNUITY"})),
        ["missing: AMT_ANNUITY", "not in the contract: ANNUITY"],
    ),
    "many columns missing": (
        edit_csv(lambda f: f.drop(columns=f.columns[44:74])),
        [
            "30 contract columns are missing: APARTMENTS_AVG, BASEMENTAREA_AVG, YEARS_BEGINEXPLUATATION_AVG, ",
            " and 25 more",
        ],
    ),
    "lower-case header": (
        change_bytes(lower_case_header),
        ["the header is lower-case: the contract's column names are upper-case (e.g. SK_ID_CURR)"],
    ),
    "reordered columns": (
        edit_csv(lambda f: f[[f.columns[1], f.columns[0], *f.columns[2:]]]),
        ["wrong order", "position 1"],
    ),
    "wrong delimiter": (change_bytes(lambda b: b.replace(b",", b";")), ["comma-separated"]),
    "gzip-compressed": (change_bytes(gzip.compress), ["the file is gzip-compressed", "unpack it first"]),
    "zip archive": (zipped("applications.csv"), ["the file is a zip archive", "unpack it first"]),
    "Excel workbook": (
        zipped("[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml"),
        ["this is an Excel workbook", "export it as CSV"],
    ),
    "repeated header": (with_line(700, lambda header: header), ["line 701 repeats the header"]),
    "repeated header, one field more": (with_line(700, lambda header: b"," + header), ["line 701 repeats the header"]),
    "undecodable bytes": (change_bytes(lambda b: b.replace(b"Cash loans", b"Cash\xff loans", 1)), ["UTF-8", "line"]),
    "utf-8 bom": (change_bytes(lambda b: b"\xef\xbb\xbf" + b), ["byte-order mark"]),
    "text in numeric column": (
        set_value("AMT_CREDIT", 3, "lots"),
        ["column AMT_CREDIT", "numeric", "'lots'", "line 5"],
    ),
    "unknown level": (
        set_value("NAME_CONTRACT_TYPE", 2, "Crypto loans"),
        ["levels_within_contract", "NAME_CONTRACT_TYPE", "Crypto loans"],
    ),
    "positive DAYS_BIRTH": (set_value("DAYS_BIRTH", 4, "12000"), ["values_within_bounds", "DAYS_BIRTH", "12000"]),
    "duplicate SK_ID_CURR": (
        edit_csv(lambda f: f.assign(SK_ID_CURR=f["SK_ID_CURR"].where(f.index != 1, f["SK_ID_CURR"][0]))),
        ["id_present_and_unique", "1 ID appears more than once: ", " on lines 2 and 3"],
    ),
    "three repeated SK_ID_CURR": (edit_csv(repeat_ids), ["3 IDs appear more than once: "]),
    "empty SK_ID_CURR": (
        edit_csv(lambda f: f.assign(SK_ID_CURR=f["SK_ID_CURR"].mask(f.index.isin([2, 5]), ""))),
        ["id_present_and_unique", "2 rows have an empty SK_ID_CURR: lines 4 and 7"],
    ),
    "amount above its bound": (
        set_value("AMT_CREDIT", 3, "20000000000"),
        ["values_within_bounds", "(0 to 10,000,000,000)", "line 5 (ID "],
    ),
    "TARGET outside {0,1}": (set_value("TARGET", 0, "2"), ["target_is_binary", "TARGET"]),
    "truncated last line": (
        change_bytes(lambda b: b[: b.rstrip(b"\n").rfind(b",", 0, len(b) - 200)]),
        ["number of fields"],
    ),
    "critical column empty": (
        edit_csv(lambda f: f.assign(EXT_SOURCE_2="")),
        ["missing_rates_within_tolerance", "EXT_SOURCE_2"],
    ),
    "non-integer in int column": (set_value("CNT_CHILDREN", 2, "1.5"), ["CNT_CHILDREN", "whole numbers"]),
}
