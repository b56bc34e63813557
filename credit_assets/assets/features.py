"""features: model-ready columns for one month, the same columns every month whatever levels it holds.

Contract numerics as float32, contract text columns as categoricals over the contract's levels (LightGBM
splits them natively, and the codes mean the same every month), DAYS_EMPLOYED's sentinel as a flag plus a
missing value, and the ratios credit practice uses.
"""

from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg
import numpy as np
import pandas as pd

from credit_assets import schema
from credit_assets.assets.validated_applications import validated_applications
from credit_assets.metadata import table_schema
from credit_assets.partitions import ONE_MONTH_PER_RUN, monthly_partitions
from credit_assets.resources.storage import StorageResource

ASSET = "features"
SENTINEL_FLAG = "DAYS_EMPLOYED_IS_SENTINEL"
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


def contract_feature_columns() -> list[schema.Column]:
    """Contract columns that enter the model as they are (everything but the key and the label)."""
    return [col for col in schema.columns() if col.name not in (schema.ID_COLUMN, schema.TARGET_COLUMN)]


def feature_names() -> list[str]:
    """Every model feature, in a fixed order."""
    return [col.name for col in contract_feature_columns()] + [SENTINEL_FLAG, *DERIVED]


def categorical_feature_names() -> list[str]:
    return [col.name for col in contract_feature_columns() if col.is_text]


def build_features(validated: pd.DataFrame) -> pd.DataFrame:
    """SK_ID_CURR, TARGET (missing for an unlabelled month) and every feature, from a validated month."""
    absent = [col.name for col in contract_feature_columns() if col.name not in validated.columns]
    if absent:
        raise ValueError(f"validated applications lack contract columns {absent}: cannot build features")
    sentinel = validated["DAYS_EMPLOYED"] == schema.DAYS_EMPLOYED_SENTINEL
    # Only the derived features' sources are held in float64; every model column goes straight to float32
    # (one copy of the month instead of three: the history has 267,511 rows).
    exact = validated[sorted({name for derived in DERIVED.values() for name in derived.sources})].astype("float64")
    exact["DAYS_EMPLOYED"] = exact["DAYS_EMPLOYED"].where(~sentinel)
    columns: dict[str, pd.Series] = {
        schema.ID_COLUMN: validated[schema.ID_COLUMN].astype("int64"),
        schema.TARGET_COLUMN: validated.get(schema.TARGET_COLUMN, pd.Series(np.nan, index=validated.index)).astype("float32"),
    }
    for col in contract_feature_columns():
        source = exact if col.name == "DAYS_EMPLOYED" else validated
        columns[col.name] = source[col.name] if col.is_text else source[col.name].astype("float32")
    columns[SENTINEL_FLAG] = sentinel.astype("float32")
    for name, derived in DERIVED.items():
        columns[name] = derived.compute(exact).replace([np.inf, -np.inf], np.nan).astype("float32")
    return pd.DataFrame(columns)


def column_lineage() -> dg.TableColumnLineage:
    """Which validated_applications columns each feature is computed from."""
    source = validated_applications.key
    sources: dict[str, tuple[str, ...]] = {col.name: (col.name,) for col in contract_feature_columns()}
    sources[SENTINEL_FLAG] = ("DAYS_EMPLOYED",)
    sources.update({name: derived.sources for name, derived in DERIVED.items()})
    return dg.TableColumnLineage(
        deps_by_column={
            name: [dg.TableColumnDep(asset_key=source, column_name=column) for column in columns]
            for name, columns in sources.items()
        }
    )


@dg.asset(
    partitions_def=monthly_partitions,
    backfill_policy=ONE_MONTH_PER_RUN,
    deps=[validated_applications],
    group_name="ingest",
    kinds={"pandas", "parquet"},
    description="Model features of the month: contract columns, the sentinel flag and credit ratios.",
)
def features(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    """Build and store the month's features."""
    frame = build_features(storage.read_table("validated_applications", context.partition_key))
    storage.write_table(ASSET, context.partition_key, frame)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(frame),
            "dagster/column_schema": table_schema(frame),
            "dagster/column_lineage": column_lineage(),
            "feature_count": len(feature_names()),
            "labelled_rows": int(frame[schema.TARGET_COLUMN].notna().sum()),
        }
    )
