"""Model features: model-ready columns for one month, the same columns every month whatever levels it holds.

Contract inputs as float32, contract text columns as categoricals over the contract's levels (LightGBM
splits them natively, and the codes mean the same every month), each sentinel code as a missing value (its flag
is catalogued but excluded, see catalogue), and the ratios credit practice uses. Every feature inherits the
roles of the columns it is computed from: one from a protected column is protected too and never becomes a
model input. Features whose reasons share a factor family give one statement on a notice (schema.Reason).
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from credit_assets.core.contract import policy, schema
from credit_assets.core.contract.schema import Reason, Role

DAYS_PER_YEAR = 365.25
EXT_SOURCES = ["EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3"]
_EXT_SCORES = Reason(schema.EXTERNAL_SCORES, -1, "External credit scores too low")


@dataclass(frozen=True)
class Derived:
    """A derived feature: the contract columns it reads, how it is computed and its reason statement."""

    sources: tuple[str, ...]
    compute: Callable[[pd.DataFrame], pd.Series]
    reason: Reason | None = None  # None for a feature that inherits a protected role


def _ratio(numerator: str, denominator: str, reason: Reason | None = None) -> Derived:
    return Derived((numerator, denominator), lambda f: f[numerator] / f[denominator], reason)


def _ext(how: str) -> Derived:
    return Derived(tuple(EXT_SOURCES), lambda f: getattr(f[EXT_SOURCES], how)(axis=1, skipna=True), _EXT_SCORES)


DERIVED: dict[str, Derived] = {
    "CREDIT_INCOME_RATIO": _ratio(
        "AMT_CREDIT",
        "AMT_INCOME_TOTAL",
        Reason("Loan amount relative to income", 1, "Loan amount high relative to income"),
    ),
    "ANNUITY_INCOME_RATIO": _ratio(
        "AMT_ANNUITY",
        "AMT_INCOME_TOTAL",
        Reason("Repayments relative to income", 1, "Repayments high relative to income"),
    ),
    "CREDIT_TERM_MONTHS": _ratio("AMT_CREDIT", "AMT_ANNUITY", Reason("Length of the repayment term")),
    "GOODS_CREDIT_RATIO": _ratio("AMT_GOODS_PRICE", "AMT_CREDIT", Reason("Loan amount relative to the goods' price")),
    "INCOME_PER_FAMILY_MEMBER": _ratio("AMT_INCOME_TOTAL", "CNT_FAM_MEMBERS"),
    "AGE_YEARS": Derived(("DAYS_BIRTH",), lambda f: -f["DAYS_BIRTH"] / DAYS_PER_YEAR),
    "EMPLOYED_YEARS": Derived(
        ("DAYS_EMPLOYED",),
        lambda f: -f["DAYS_EMPLOYED"] / DAYS_PER_YEAR,
        Reason("Length of employment", -1, "Short employment history"),
    ),
    "EMPLOYED_SHARE_OF_AGE": _ratio("DAYS_EMPLOYED", "DAYS_BIRTH"),
    "EXT_SOURCE_MEAN": _ext("mean"),
    "EXT_SOURCE_MIN": _ext("min"),
    "EXT_SOURCE_MAX": _ext("max"),
    "EXT_SOURCE_PRODUCT": Derived(tuple(EXT_SOURCES), lambda f: f[EXT_SOURCES].prod(axis=1, skipna=False), _EXT_SCORES),
    "EXT_SOURCE_MISSING_COUNT": Derived(
        tuple(EXT_SOURCES),
        lambda f: f[EXT_SOURCES].isna().sum(axis=1),
        Reason("External credit scores on file", 1, "Few external credit scores on file", schema.EXTERNAL_SCORES),
    ),
}


def sentinel_flag(column: str) -> str:
    """The name of the flag feature that marks a column's sentinel code."""
    return f"{column}_IS_SENTINEL"


def inherited_role(sources: tuple[str, ...]) -> Role:
    """The role a feature computed from `sources` inherits: protected beats excluded beats input."""
    roles = {schema.column(name).role for name in sources}
    for role in (Role.PROTECTED, Role.EXCLUDED):
        if role in roles:
            return role
    return Role.INPUT


@cache
def catalogue() -> tuple[policy.Feature, ...]:
    """Every feature the contract can give, in a fixed order, with its role, sources and reason statement."""
    contract = [
        policy.Feature(col.name, col.role, (col.name,), col.reason)
        for col in schema.columns()
        if col.role not in (Role.IDENTIFIER, Role.LABEL)
    ]
    # A sentinel marks pensioners and the unemployed: the source of income again, so its flag is excluded as
    # NAME_INCOME_TYPE is (restricted_inputs.tsv); the sentinel rows keep a missing value instead.
    flags = [
        policy.Feature(sentinel_flag(col.name), Role.EXCLUDED, (col.name,), None)
        for col in schema.columns()
        if col.sentinel is not None
    ]
    derived = [policy.Feature(name, inherited_role(d.sources), d.sources, d.reason) for name, d in DERIVED.items()]
    return tuple(contract + flags + derived)


def model_inputs() -> list[policy.Feature]:
    return [feature for feature in catalogue() if feature.role is Role.INPUT]


def feature_names() -> list[str]:
    """Every model feature, in a fixed order."""
    return [feature.name for feature in model_inputs()]


def protected_features() -> list[str]:
    """Protected columns and every feature derived from one: never a model input."""
    return [feature.name for feature in catalogue() if feature.role is Role.PROTECTED]


def categorical_feature_names() -> list[str]:
    return [col.name for col in schema.input_columns() if col.is_text]


def reasons() -> dict[str, Reason]:
    """The reason statement of every model feature."""
    return {feature.name: feature.reason for feature in model_inputs() if feature.reason is not None}


def monotone_directions() -> dict[str, int]:
    """The declared risk direction of every model feature that has one (+1 or -1)."""
    return {name: reason.direction for name, reason in reasons().items() if reason.direction}


def require_consistent_contract() -> None:
    """Refuse to go on when the contract, its features and the fair-lending policy disagree."""
    policy.require_consistent(schema.columns(), policy.policy(), catalogue(), policy.restrictions())


def build_features(validated: pd.DataFrame) -> pd.DataFrame:
    """SK_ID_CURR, TARGET (missing for an unlabelled month) and every model feature, from a validated month."""
    inputs = schema.input_columns()
    absent = [col.name for col in inputs if col.name not in validated.columns]
    if absent:
        raise ValueError(f"validated applications lack contract columns {absent}: cannot build features")
    derived = {name: DERIVED[name] for name in feature_names() if name in DERIVED}
    sentinels = {col.name: validated[col.name] == col.sentinel for col in inputs if col.sentinel is not None}
    # Only the derived features' sources and the sentinel columns are held in float64; every other model column
    # goes straight to float32 (one copy of the month instead of three: the history has 267,511 rows).
    exact = validated[sorted({name for d in derived.values() for name in d.sources} | set(sentinels))].astype(
        np.float64
    )
    for name, is_code in sentinels.items():
        exact[name] = exact[name].where(~is_code)
    # Whole-frame casts and plain arrays: column by column, pandas' fixed cost per operation is most of the time a
    # decision of a few rows takes, and the same values come out either way.
    numeric = [col.name for col in inputs if not col.is_text]
    plain = validated[[name for name in numeric if name not in sentinels]].astype(np.float32)
    as_float32 = {
        **plain.to_dict(orient="series"),
        **exact[list(sentinels)].astype(np.float32).to_dict(orient="series"),
    }
    columns: dict[str, Any] = {
        schema.ID_COLUMN: validated[schema.ID_COLUMN].to_numpy(dtype=np.int64),
        schema.TARGET_COLUMN: (
            validated[schema.TARGET_COLUMN].to_numpy(dtype=np.float32)
            if schema.TARGET_COLUMN in validated.columns
            else np.full(len(validated), np.nan, dtype=np.float32)
        ),
        **{name: as_float32[name].to_numpy() for name in numeric},
        **{col.name: validated[col.name].array for col in inputs if col.is_text},
    }
    for name, computed in derived.items():
        columns[name] = computed.compute(exact).replace([np.inf, -np.inf], np.nan).to_numpy(dtype=np.float32)
    order = [schema.ID_COLUMN, schema.TARGET_COLUMN, *feature_names()]
    return pd.DataFrame({name: columns[name] for name in order}, index=validated.index)


def feature_sources() -> dict[str, tuple[str, ...]]:
    """The validated contract columns each model feature is computed from (the column lineage)."""
    return {feature.name: feature.sources for feature in model_inputs()}
