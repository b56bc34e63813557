"""Scoring: every application of a month with its default probability, decision, reasons and model version.

Reasons of a referred or declined application are the three features whose exact SHAP contributions
(LightGBM `pred_contrib`) push its risk up the most; approved applications are not explained.
The export for people outside Dagster holds SK_ID_CURR and model outputs only.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from credit_assets.core.contract import schema

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


@dataclass(frozen=True)
class Cutoffs:
    """Probability cut-offs: approve below `review_cutoff`, decline from `decline_cutoff`, review in between."""

    review_cutoff: float = 0.10
    decline_cutoff: float = 0.25

    def __post_init__(self) -> None:
        if not 0 < self.review_cutoff < self.decline_cutoff < 1:
            raise ValueError(
                "cut-offs must satisfy 0 < review_cutoff < decline_cutoff < 1, "
                f"got review_cutoff={self.review_cutoff}, decline_cutoff={self.decline_cutoff}"
            )


def decide(probabilities: np.ndarray, cutoffs: Cutoffs) -> np.ndarray:
    """Approve / review / decline by the cut-offs."""
    bins = np.digitize(probabilities, [cutoffs.review_cutoff, cutoffs.decline_cutoff])
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
        found = [
            _describe(names[i], frame.iat[row, frame.columns.get_loc(names[i])]) for i in top if per_feature[row, i] > 0
        ]
        texts.append(found + [NO_FURTHER_REASON] * (REASON_COUNT - len(found)))
    return texts


def score(frame: pd.DataFrame, booster: Any, version: str, cutoffs: Cutoffs) -> pd.DataFrame:
    """The forecast table for a month's features."""
    names = booster.feature_name()
    probabilities = booster.predict(frame[names])
    decisions = decide(probabilities, cutoffs)
    reason_texts = np.full((len(frame), REASON_COUNT), APPROVED_REASON, dtype=object)
    adverse = decisions != "approve"
    if adverse.any():
        referred = frame.loc[adverse]
        contributions = booster.predict(referred[names], pred_contrib=True)
        reason_texts[adverse] = np.array(reasons(referred, names, contributions), dtype=object).reshape(
            -1, REASON_COUNT
        )
    table = pd.DataFrame(
        {
            schema.ID_COLUMN: frame[schema.ID_COLUMN].to_numpy(),
            "default_probability": probabilities,
            "decision": decisions,
        }
    )
    for i in range(REASON_COUNT):
        table[f"reason_{i + 1}"] = reason_texts[:, i]
    table["model_version"] = version
    return table


def decision_shares(table: pd.DataFrame) -> dict[str, float]:
    """Share of each decision in a forecast table, every decision listed."""
    shares = table["decision"].value_counts(normalize=True).reindex(DECISIONS, fill_value=0.0)
    return {decision: round(float(share), 4) for decision, share in shares.items()}


@dataclass(frozen=True)
class ForecastAudit:
    """What the forecast checks judge: coverage of the month's applications and the values' ranges."""

    forecasts: int
    applications: int
    missing: int
    extra: int
    duplicated: int
    probabilities_outside_unit_interval: int
    empty_fields: dict[str, int]


def audit(table: pd.DataFrame, application_ids: pd.Series) -> ForecastAudit:
    """Compare a forecast table with the month's validated application IDs."""
    ids = table[schema.ID_COLUMN]
    missing = table.isna().sum()
    return ForecastAudit(
        forecasts=len(ids),
        applications=len(application_ids),
        missing=len(set(application_ids) - set(ids)),
        extra=len(set(ids) - set(application_ids)),
        duplicated=int(ids.duplicated().sum()),
        probabilities_outside_unit_interval=int((~table["default_probability"].between(0, 1)).sum()),
        empty_fields={name: int(count) for name, count in missing.items() if count},
    )
