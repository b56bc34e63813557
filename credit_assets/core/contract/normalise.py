"""A month that passed the quality rules, in the contract's dtypes with its placeholder levels made missing."""

from functools import cache

import numpy as np
import pandas as pd

from credit_assets.core.contract import schema


@cache
def _categories(name: str) -> pd.CategoricalDtype:
    """The column's levels without its placeholder, made once: a decision service normalises a few rows at a time."""
    col = schema.column(name)
    return pd.CategoricalDtype([level for level in col.levels if level != col.placeholder])


def normalise(raw: pd.DataFrame) -> pd.DataFrame:
    """Ints as int64, text as categoricals over the contract's levels, placeholder levels ('XNA', ...) as missing.

    Sentinel codes and outliers are kept: they are real values that the features handle.
    """
    frame = raw.copy(deep=False)  # copy-on-write: replaced columns leave `raw` as it was, nothing else is copied
    for col in schema.columns():
        if col.name not in frame.columns:
            continue
        if col.dtype == "int64" and frame[col.name].dtype != np.int64:  # already int64 as the reader types it
            frame[col.name] = frame[col.name].astype(np.int64)
        elif col.is_text:
            frame[col.name] = pd.Categorical(frame[col.name], dtype=_categories(col.name))
    return frame


def quirk_counts(frame: pd.DataFrame) -> dict[str, int]:
    """Rows per sentinel column holding its code, and missing values per placeholder column."""
    counts = {
        f"{col.name}_sentinel_rows": int((frame[col.name] == col.sentinel).sum())
        for col in schema.columns()
        if col.sentinel is not None and col.name in frame.columns
    }
    counts.update(
        {
            f"{col.name}_missing_after_placeholders": int(frame[col.name].isna().sum())
            for col in schema.columns()
            if col.placeholder is not None and col.name in frame.columns
        }
    )
    return counts
