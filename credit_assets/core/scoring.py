"""Scoring: every application of a month with its default probability, decision, reasons and model version.

Reasons of a referred or declined application are the statements of the features whose contributions push
its risk up the most (LightGBM: exact SHAP values from `pred_contrib`; scorecard: points lost against the
characteristic's best attribute), up to four distinct statements from the
contract's catalogue, largest contribution first; approved applications carry none. Exact SHAP values cost
about 1 ms a row at full scale, so approved applications are not explained.
The export for people outside Dagster holds SK_ID_CURR and model outputs only.
"""

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from credit_assets.core import features
from credit_assets.core.contract import schema
from credit_assets.core.contract.schema import Reason
from credit_assets.core.modeling.models import Model
from credit_assets.core.months import first_day_after

REASON_COUNT = 4  # principal reasons on an adverse-action notice (12 CFR 1002.9; in practice up to four)
NO_REASON = ""  # approved applications, and the unused reason slots of an adverse one
DECISIONS = ("approve", "review", "decline")
ADVERSE = ("review", "decline")


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


def statement(reason: Reason, value: Any) -> str:
    """The notice's statement for a feature that raised the risk, given the applicant's value."""
    return reason.statement(missing=bool(pd.isna(value)))


def allowed_statements() -> set[str]:
    """Every statement a notice may carry: the catalogue of the model inputs (never a protected attribute)."""
    return {
        statement
        for reason in features.reasons().values()
        for statement in (reason.statement(), reason.statement(True))
    }


def principal_reasons(frame: pd.DataFrame, names: list[str], contributions: np.ndarray) -> list[list[str]]:
    """Per row, up to REASON_COUNT distinct statements of the features that raise its risk most, largest first.

    A row whose features all lower its risk (its score comes from the base rate) gets the statement of the
    feature that lowered it least, so an adverse decision always names at least one reason.
    """
    catalogue = features.reasons()
    per_feature = contributions[:, : len(names)]  # the last column is the bias
    order = np.argsort(-per_feature, axis=1, kind="stable")
    values = frame[names].to_numpy(dtype=object)
    rows = []
    for row, ranked in enumerate(order):
        raising = [i for i in ranked if per_feature[row, i] > 0] or list(ranked[:1])
        found: list[str] = []
        for i in raising:
            text = statement(catalogue[names[i]], values[row, i])
            if text not in found:
                found.append(text)
            if len(found) == REASON_COUNT:
                break
        rows.append(found + [NO_REASON] * (REASON_COUNT - len(found)))
    return rows


def score(frame: pd.DataFrame, model: Model, cutoffs: Cutoffs) -> pd.DataFrame:
    """The forecast table for a month's features: calibrated probability, decision, reasons, model version."""
    names = model.scorer.feature_name()
    probabilities = model.predict(frame)
    decisions = decide(probabilities, cutoffs)
    reason_texts = np.full((len(frame), REASON_COUNT), NO_REASON, dtype=object)
    adverse = np.isin(decisions, ADVERSE)
    if adverse.any():
        referred = frame.loc[adverse]
        found = principal_reasons(referred, names, model.scorer.contributions(referred))
        reason_texts[adverse] = np.array(found, dtype=object).reshape(-1, REASON_COUNT)
    table = pd.DataFrame(
        {
            schema.ID_COLUMN: frame[schema.ID_COLUMN].to_numpy(),
            "default_probability": probabilities,
            "decision": decisions,
        }
    )
    for i, column in enumerate(reason_columns()):
        table[column] = reason_texts[:, i]
    table["model_version"] = model.version
    return table


def reason_columns() -> list[str]:
    return [f"reason_{i + 1}" for i in range(REASON_COUNT)]


def decision_shares(table: pd.DataFrame) -> dict[str, float]:
    """Share of each decision in a forecast table, every decision listed."""
    shares = table["decision"].value_counts(normalize=True).reindex(DECISIONS, fill_value=0.0)
    return {decision: round(float(share), 4) for decision, share in shares.items()}


# The forecast checks, by name: what each asserts. `ForecastAudit.verdicts` judges them under the same names.
FORECAST_CHECKS = {
    "one_row_per_application": "Exactly one forecast per validated application of the month.",
    "probabilities_in_unit_interval": "Every default probability lies within [0, 1].",
    "no_missing_values": "No forecast field is empty.",
    "adverse_decisions_have_reasons": "Every referred or declined application has a reason from the catalogue; "
    "none cites a protected attribute; approved applications carry none.",
}


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
    adverse_without_reason: int
    approved_with_reason: int
    reasons_outside_catalogue: dict[str, int]

    def verdicts(self) -> dict[str, bool]:
        """Whether each forecast check passes, by check name."""
        return {
            "one_row_per_application": not (self.missing or self.extra or self.duplicated),
            "probabilities_in_unit_interval": self.probabilities_outside_unit_interval == 0,
            "no_missing_values": not self.empty_fields,
            "adverse_decisions_have_reasons": not (
                self.adverse_without_reason or self.approved_with_reason or self.reasons_outside_catalogue
            ),
        }


def audit(table: pd.DataFrame, application_ids: pd.Series) -> ForecastAudit:
    """Compare a forecast table with the month's validated application IDs."""
    ids = table[schema.ID_COLUMN]
    missing = table.isna().sum()
    adverse = table["decision"].isin(ADVERSE)
    reasons = table[reason_columns()]
    given = reasons.stack()
    given = given[given != NO_REASON]
    allowed = sorted(allowed_statements())
    return ForecastAudit(
        forecasts=len(ids),
        applications=len(application_ids),
        missing=len(set(application_ids) - set(ids)),
        extra=len(set(ids) - set(application_ids)),
        duplicated=int(ids.duplicated().sum()),
        probabilities_outside_unit_interval=int((~table["default_probability"].between(0, 1)).sum()),
        empty_fields={name: int(count) for name, count in missing.items() if count},
        adverse_without_reason=int((adverse & (table["reason_1"] == NO_REASON)).sum()),
        approved_with_reason=int((~adverse & (reasons != NO_REASON).any(axis=1)).sum()),
        reasons_outside_catalogue={text: int(n) for text, n in given[~given.isin(allowed)].value_counts().items()},
    )


@dataclass(frozen=True)
class NoticeSettings:
    """The decision date the month's notices carry; empty means the first day after the month closes."""

    decision_date: str = ""

    def __post_init__(self) -> None:
        if self.decision_date and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", self.decision_date):
            raise ValueError(f"decision_date must be an ISO date (YYYY-MM-DD), got {self.decision_date!r}")


def adverse_action_notices(table: pd.DataFrame, month: str, settings: NoticeSettings) -> pd.DataFrame:
    """One row per referred or declined application: SK_ID_CURR, decision, reasons, model version and date only."""
    adverse = table.loc[
        table["decision"].isin(ADVERSE), [schema.ID_COLUMN, "decision", *reason_columns(), "model_version"]
    ]
    return adverse.assign(decision_date=settings.decision_date or first_day_after(month)).reset_index(drop=True)
