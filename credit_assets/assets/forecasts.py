"""forecasts: every application of month M with its default probability, decision, reasons and model version.

Reasons of a referred or declined application are the three features whose exact SHAP contributions
(LightGBM `pred_contrib`) push its risk up the most; approved applications are not explained.
The export for people outside Dagster holds SK_ID_CURR and model outputs only.
"""

from typing import Any

import dagster as dg
import numpy as np
import pandas as pd

from credit_assets import metadata, modeling, schema
from credit_assets.assets.features import features
from credit_assets.assets.model import ASSET as MODEL
from credit_assets.assets.model import model
from credit_assets.partitions import ONE_MONTH_PER_RUN, monthly_partitions
from credit_assets.resources.storage import StorageResource, atomic_write

ASSET = "forecasts"
REASON_COUNT = 3
NO_FURTHER_REASON = "no further risk-raising factor"
# Reasons explain adverse decisions: the notice a declined applicant is owed and the reviewer's queue. Exact SHAP
# values cost about 1 ms a row at full scale, so approved applications are not explained.
APPROVED_REASON = "approved: no adverse-action reason"
DECISIONS = ("approve", "review", "decline")
READABLE_NAMES: dict[str, str] = {
    "EXT_SOURCE_1": "External credit score 1",
    "EXT_SOURCE_2": "External credit score 2",
    "EXT_SOURCE_3": "External credit score 3",
    "EXT_SOURCE_MEAN": "Average external credit score",
    "EXT_SOURCE_MIN": "Lowest external credit score",
    "EXT_SOURCE_MAX": "Highest external credit score",
    "EXT_SOURCE_PRODUCT": "Product of external credit scores",
    "EXT_SOURCE_MISSING_COUNT": "External credit scores missing",
    "AGE_YEARS": "Age (years)",
    "DAYS_BIRTH": "Age (days before application)",
    "EMPLOYED_YEARS": "Years employed",
    "DAYS_EMPLOYED": "Employment (days before application)",
    "EMPLOYED_SHARE_OF_AGE": "Share of life employed",
    "DAYS_EMPLOYED_IS_SENTINEL": "Not employed (pensioner or unemployed)",
    "CREDIT_INCOME_RATIO": "Credit to income",
    "ANNUITY_INCOME_RATIO": "Annuity to income",
    "CREDIT_TERM_MONTHS": "Credit term (credit / annuity)",
    "GOODS_CREDIT_RATIO": "Goods price to credit",
    "INCOME_PER_FAMILY_MEMBER": "Income per family member",
    "AMT_CREDIT": "Credit amount",
    "AMT_ANNUITY": "Loan annuity",
    "AMT_GOODS_PRICE": "Goods price",
    "AMT_INCOME_TOTAL": "Income",
    "DAYS_ID_PUBLISH": "ID document changed (days ago)",
    "DAYS_REGISTRATION": "Registration changed (days ago)",
    "DAYS_LAST_PHONE_CHANGE": "Phone changed (days ago)",
    "OWN_CAR_AGE": "Age of own car",
    "CODE_GENDER": "Gender",
    "NAME_EDUCATION_TYPE": "Education",
    "NAME_INCOME_TYPE": "Income type",
    "NAME_CONTRACT_TYPE": "Contract type",
    "NAME_FAMILY_STATUS": "Family status",
    "OCCUPATION_TYPE": "Occupation",
    "ORGANIZATION_TYPE": "Employer type",
    "REGION_RATING_CLIENT": "Region rating",
    "REGION_RATING_CLIENT_W_CITY": "Region rating with city",
    "REGION_POPULATION_RELATIVE": "Region population density",
}


class ForecastConfig(dg.Config):
    """Probability cut-offs: approve below `review_cutoff`, decline from `decline_cutoff`, review in between."""

    review_cutoff: float = 0.10
    decline_cutoff: float = 0.25


def decide(probabilities: np.ndarray, config: ForecastConfig) -> np.ndarray:
    """Approve / review / decline by the configured cut-offs (which must satisfy 0 < review < decline < 1)."""
    if not 0 < config.review_cutoff < config.decline_cutoff < 1:
        raise ValueError(
            f"cut-offs must satisfy 0 < review_cutoff < decline_cutoff < 1, got review_cutoff={config.review_cutoff}, "
            f"decline_cutoff={config.decline_cutoff}"
        )
    bins = np.digitize(probabilities, [config.review_cutoff, config.decline_cutoff])
    return np.array(DECISIONS, dtype=object)[bins]


def _describe(name: str, value: Any) -> str:
    label = READABLE_NAMES.get(name, name.replace("_", " ").capitalize())
    if pd.isna(value):
        return f"{label}: missing"
    if isinstance(value, str):
        return f"{label}: {value}"
    return f"{label}: {float(value):.4g}"


def reasons(frame: pd.DataFrame, names: list[str], contributions: np.ndarray) -> list[list[str]]:
    """For each row, the readable texts of the (up to) three features that raise its risk the most."""
    per_feature = contributions[:, : len(names)]  # the last column is the bias
    order = np.argsort(-per_feature, axis=1, kind="stable")[:, :REASON_COUNT]
    texts: list[list[str]] = []
    for row, top in enumerate(order):
        found = [_describe(names[i], frame.iat[row, frame.columns.get_loc(names[i])]) for i in top if per_feature[row, i] > 0]
        texts.append(found + [NO_FURTHER_REASON] * (REASON_COUNT - len(found)))
    return texts


def score(frame: pd.DataFrame, booster: Any, version: str, config: ForecastConfig) -> pd.DataFrame:
    """The forecast table for a month's features."""
    names = booster.feature_name()
    probabilities = booster.predict(frame[names])
    decisions = decide(probabilities, config)
    reason_texts = np.full((len(frame), REASON_COUNT), APPROVED_REASON, dtype=object)
    adverse = decisions != "approve"
    if adverse.any():
        referred = frame.loc[adverse]
        contributions = booster.predict(referred[names], pred_contrib=True)
        reason_texts[adverse] = np.array(reasons(referred, names, contributions), dtype=object).reshape(-1, REASON_COUNT)
    table = pd.DataFrame(
        {schema.ID_COLUMN: frame[schema.ID_COLUMN].to_numpy(), "default_probability": probabilities, "decision": decisions}
    )
    for i in range(REASON_COUNT):
        table[f"reason_{i + 1}"] = reason_texts[:, i]
    table["model_version"] = version
    return table


@dg.asset(
    partitions_def=monthly_partitions,
    backfill_policy=ONE_MONTH_PER_RUN,
    deps=[model, features],
    group_name="model",
    kinds={"lightgbm", "parquet", "csv"},
    description="Default probability, decision and top-3 reasons for every application of the month; CSV export.",
)
def forecasts(context: dg.AssetExecutionContext, config: ForecastConfig, storage: StorageResource) -> dg.MaterializeResult:
    """Score the month with its model and export the forecasts atomically."""
    month = context.partition_key
    try:
        decide(np.array([]), config)
        booster, card = modeling.load_model(storage.artifact_dir(MODEL, month))
    except (ValueError, FileNotFoundError) as error:
        raise dg.Failure(str(error)) from error
    table = score(storage.read_table("features", month), booster, card["version"], config)
    storage.write_table(ASSET, month, table)
    export = atomic_write(storage.forecasts_dir / f"forecasts_{month}.csv", lambda tmp: table.to_csv(tmp, index=False))
    shares = table["decision"].value_counts(normalize=True).reindex(DECISIONS, fill_value=0.0)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(table),
            "model_version": card["version"],
            "mean_probability": float(table["default_probability"].mean()),
            "decision_shares": dg.MetadataValue.json({k: round(float(v), 4) for k, v in shares.items()}),
            "export": dg.MetadataValue.path(str(export)),
            "preview": metadata.table(table.head(10)),
        }
    )


def _check_frame(storage: StorageResource, month: str) -> pd.DataFrame:
    return storage.read_table(ASSET, month)


@dg.asset_check(asset=forecasts, blocking=True, description="Exactly one forecast per validated application of the month.")
def one_row_per_application(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    month = context.partition_key
    ids = _check_frame(storage, month)[schema.ID_COLUMN]
    expected = storage.read_table("validated_applications", month, [schema.ID_COLUMN])[schema.ID_COLUMN]
    missing, extra = set(expected) - set(ids), set(ids) - set(expected)
    duplicated = int(ids.duplicated().sum())
    return dg.AssetCheckResult(
        passed=not (missing or extra or duplicated),
        metadata={"forecasts": len(ids), "applications": len(expected), "missing": len(missing), "extra": len(extra), "duplicated": duplicated},
    )


@dg.asset_check(asset=forecasts, blocking=True, description="Every default probability lies within [0, 1].")
def probabilities_in_unit_interval(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    probabilities = _check_frame(storage, context.partition_key)["default_probability"]
    outside = int((~probabilities.between(0, 1)).sum())
    return dg.AssetCheckResult(passed=outside == 0, metadata={"outside": outside, "min": float(probabilities.min()), "max": float(probabilities.max())})


@dg.asset_check(asset=forecasts, blocking=True, description="No forecast field is empty.")
def no_missing_values(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    missing = _check_frame(storage, context.partition_key).isna().sum()
    return dg.AssetCheckResult(passed=int(missing.sum()) == 0, metadata={"missing_by_column": dg.MetadataValue.json({k: int(v) for k, v in missing.items() if v})})
