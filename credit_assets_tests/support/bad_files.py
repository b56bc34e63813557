"""Landing files broken in every way the reader and the GX suite must catch, with the words a user must see."""

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


# kind -> (how the good file is broken, words the user must see: file, column, rule)
BAD_FILES: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "empty file": (lambda p: p.write_bytes(b""), ["empty"]),
    "header only": (change_bytes(lambda b: b.split(b"\n", 1)[0] + b"\n"), ["has_rows"]),
    "missing column": (
        edit_csv(lambda f: f.drop(columns="AMT_CREDIT")),
        ["columns_match_contract", "missing ['AMT_CREDIT']"],
    ),
    "extra column": (
        edit_csv(lambda f: f.assign(NEW_COLUMN="1")),
        ["columns_match_contract", "unexpected ['NEW_COLUMN']"],
    ),
    "renamed column": (
        edit_csv(lambda f: f.rename(columns={"AMT_ANNUITY": "ANNUITY"})),
        ["missing ['AMT_ANNUITY']", "unexpected ['ANNUITY']"],
    ),
    "reordered columns": (
        edit_csv(lambda f: f[[f.columns[1], f.columns[0], *f.columns[2:]]]),
        ["wrong order", "position 1"],
    ),
    "wrong delimiter": (change_bytes(lambda b: b.replace(b",", b";")), ["comma-separated"]),
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
        ["id_present_and_unique", "repeated"],
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
