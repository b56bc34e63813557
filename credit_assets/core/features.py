"""Model features: model-ready columns for one month, the same columns every month whatever levels it holds.

Contract inputs as float32, contract text columns as categoricals over the contract's levels (LightGBM
splits them natively, and the codes mean the same every month), each sentinel code as a flag plus a missing
value, and the ratios credit practice uses.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from credit_assets.core.contract import schema

DAYS_PER_YEAR = 365.25
EXT_SOURCES = ["EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3"]


@dataclass(frozen=True)
class Derived:
    """A derived feature: the contract columns it reads and how it is computed from them."""

    sources: tuple[str, ...]
    compute: Callable[[pd.DataFrame], pd.Series]


def _ratio(numerator: str, denominator: str) -> Derived:
    return Derived((numerator, denominator), lambda f: f[numerator] / f[denominator])


def _ext(how: str) -> Derived:
    return Derived(tuple(EXT_SOURCES), lambda f: getattr(f[EXT_SOURCES], how)(axis=1, skipna=True))


DERIVED: dict[str, Derived] = {
    "CREDIT_INCOME_RATIO": _ratio("AMT_CREDIT", "AMT_INCOME_TOTAL"),
    "ANNUITY_INCOME_RATIO": _ratio("AMT_ANNUITY", "AMT_INCOME_TOTAL"),
    "CREDIT_TERM_MONTHS": _ratio("AMT_CREDIT", "AMT_ANNUITY"),
    "GOODS_CREDIT_RATIO": _ratio("AMT_GOODS_PRICE", "AMT_CREDIT"),
    "INCOME_PER_FAMILY_MEMBER": _ratio("AMT_INCOME_TOTAL", "CNT_FAM_MEMBERS"),
    "AGE_YEARS": Derived(("DAYS_BIRTH",), lambda f: -f["DAYS_BIRTH"] / DAYS_PER_YEAR),
    "EMPLOYED_YEARS": Derived(("DAYS_EMPLOYED",), lambda f: -f["DAYS_EMPLOYED"] / DAYS_PER_YEAR),
    "EMPLOYED_SHARE_OF_AGE": _ratio("DAYS_EMPLOYED", "DAYS_BIRTH"),
    "EXT_SOURCE_MEAN": _ext("mean"),
    "EXT_SOURCE_MIN": _ext("min"),
    "EXT_SOURCE_MAX": _ext("max"),
    "EXT_SOURCE_PRODUCT": Derived(tuple(EXT_SOURCES), lambda f: f[EXT_SOURCES].prod(axis=1, skipna=False)),
    "EXT_SOURCE_MISSING_COUNT": Derived(tuple(EXT_SOURCES), lambda f: f[EXT_SOURCES].isna().sum(axis=1)),
}


def sentinel_flag(column: str) -> str:
    """The name of the flag feature that marks a column's sentinel code."""
    return f"{column}_IS_SENTINEL"


def sentinel_columns() -> list[schema.Column]:
    return [col for col in schema.input_columns() if col.sentinel is not None]


def feature_names() -> list[str]:
    """Every model feature, in a fixed order."""
    return (
        [col.name for col in schema.input_columns()] + [sentinel_flag(c.name) for c in sentinel_columns()] + [*DERIVED]
    )


def categorical_feature_names() -> list[str]:
    return [col.name for col in schema.input_columns() if col.is_text]


def build_features(validated: pd.DataFrame) -> pd.DataFrame:
    """SK_ID_CURR, TARGET (missing for an unlabelled month) and every feature, from a validated month."""
    absent = [col.name for col in schema.input_columns() if col.name not in validated.columns]
    if absent:
        raise ValueError(f"validated applications lack contract columns {absent}: cannot build features")
    sentinels = {col.name: validated[col.name] == col.sentinel for col in sentinel_columns()}
    # Only the derived features' sources and the sentinel columns are held in float64; every other model column
    # goes straight to float32 (one copy of the month instead of three: the history has 267,511 rows).
    exact_names = sorted({name for derived in DERIVED.values() for name in derived.sources} | set(sentinels))
    exact = validated[exact_names].astype("float64")
    for name, is_code in sentinels.items():
        exact[name] = exact[name].where(~is_code)
    columns: dict[str, pd.Series] = {
        schema.ID_COLUMN: validated[schema.ID_COLUMN].astype("int64"),
        schema.TARGET_COLUMN: validated.get(schema.TARGET_COLUMN, pd.Series(np.nan, index=validated.index)).astype(
            "float32"
        ),
    }
    for col in schema.input_columns():
        source = exact if col.name in sentinels else validated
        columns[col.name] = source[col.name] if col.is_text else source[col.name].astype("float32")
    for name, is_code in sentinels.items():
        columns[sentinel_flag(name)] = is_code.astype("float32")
    for name, derived in DERIVED.items():
        columns[name] = derived.compute(exact).replace([np.inf, -np.inf], np.nan).astype("float32")
    return pd.DataFrame(columns)


def feature_sources() -> dict[str, tuple[str, ...]]:
    """The validated contract columns each feature is computed from (the column lineage)."""
    sources: dict[str, tuple[str, ...]] = {col.name: (col.name,) for col in schema.input_columns()}
    sources.update({sentinel_flag(col.name): (col.name,) for col in sentinel_columns()})
    sources.update({name: derived.sources for name, derived in DERIVED.items()})
    return sources
