"""Scoring: every application of a month with its default probability, decision, reasons and model version.

Reasons of a referred or declined application are its factor families (schema.Reason: all external-score
features are one factor, the building's _AVG/_MODE/_MEDI another ...) whose contribution to the log-odds of
default, the sum of their features' contributions (LightGBM: exact SHAP values from `pred_contrib`; scorecard:
points lost against the characteristic's best attribute), raises the risk by at least MATERIAL_LOG_ODDS: one
to four, largest first, or the single largest family when none is material, so an adverse decision always
names one. A family gives one statement: that of its member that raised the risk most, in its "not provided"
form when that member's value was missing. Approved applications carry none. Exact SHAP values cost about
1 ms a row at full scale, so approved applications are not explained.
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
# A family is a principal reason only when it raises the log-odds of default by at least this much: 0.1
# multiplies the odds of default by e^0.1 = 1.105, a tenth more risk (the scorecard: 2.9 of its points, at 20
# points to double the odds). Smaller pushes are minor next to the 1 to 2 log-odds that separate a referred
# applicant from the average one, and naming them is what filled every notice with four reasons.
MATERIAL_LOG_ODDS = 0.1
PROBABILITY_BANDS = 20  # the portal's score chart: bands of 5 percentage points
TOP_REASONS = 10  # the most frequent statements a month's summary lists
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


def statement_families() -> dict[str, str]:
    """Every statement a notice may carry, with its factor family: the catalogue of the model inputs only."""
    return {
        text: reason.family_name
        for reason in features.reasons().values()
        for text in (reason.statement(), reason.statement(missing=True))
    }


def allowed_statements() -> set[str]:
    """Every statement a notice may carry (never a protected or restricted attribute)."""
    return set(statement_families())


def family_members(names: list[str]) -> dict[str, np.ndarray]:
    """The indices into `names` of each factor family's features, families in order of first appearance."""
    catalogue = features.reasons()
    families = [catalogue[name].family_name for name in names]
    return {family: np.flatnonzero(np.array(families) == family) for family in dict.fromkeys(families)}


def material_families(totals: np.ndarray) -> list[int]:
    """Up to REASON_COUNT families raising the risk by MATERIAL_LOG_ODDS or more, largest first; else the largest."""
    order = np.argsort(-totals, kind="stable")
    return [int(j) for j in order[:REASON_COUNT] if totals[j] >= MATERIAL_LOG_ODDS] or [int(order[0])]


def principal_reasons(frame: pd.DataFrame, names: list[str], contributions: np.ndarray) -> list[list[str]]:
    """Per row, the statements of its material factor families, largest first, padded to REASON_COUNT slots."""
    catalogue = features.reasons()
    members = list(family_members(names).values())
    per_feature = contributions[:, : len(names)]  # the last column is the bias
    totals = np.column_stack([per_feature[:, indices].sum(axis=1) for indices in members])
    values = frame[names].to_numpy(dtype=object)
    rows = []
    for row, total in enumerate(totals):
        found = []
        for family in material_families(total):
            dominant = members[family][np.argmax(per_feature[row, members[family]])]
            found.append(statement(catalogue[names[dominant]], values[row, dominant]))
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


def decision_counts(table: pd.DataFrame) -> dict[str, int]:
    """Applications of each decision in a forecast table, every decision listed."""
    counts = table["decision"].value_counts().reindex(DECISIONS, fill_value=0)
    return {decision: int(count) for decision, count in counts.items()}


def decision_shares(table: pd.DataFrame) -> dict[str, float]:
    """Share of each decision in a forecast table, every decision listed."""
    rows = max(len(table), 1)  # an empty table has every share 0
    return {decision: round(count / rows, 4) for decision, count in decision_counts(table).items()}


def applications_per_band(frame: pd.DataFrame) -> dict[str, list[int]]:
    """Per decision, its applications in each of PROBABILITY_BANDS equal default-probability bands, lowest first."""
    bands = np.minimum((frame["default_probability"].to_numpy() * PROBABILITY_BANDS).astype(int), PROBABILITY_BANDS - 1)
    decisions = frame["decision"].to_numpy()
    return {d: np.bincount(bands[decisions == d], minlength=PROBABILITY_BANDS).tolist() for d in DECISIONS}


def top_reasons(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The TOP_REASONS statements given most often on the month's adverse decisions, with how many gave each."""
    given = frame[reason_columns()].stack()
    counts = given[given != NO_REASON].value_counts().head(TOP_REASONS)
    return [{"reason": reason, "applications": int(count)} for reason, count in counts.items()]


# The forecast checks, by name: what each asserts. `ForecastAudit.verdicts` judges them under the same names.
FORECAST_CHECKS = {
    "one_row_per_application": "Exactly one forecast per validated application of the month.",
    "probabilities_in_unit_interval": "Every default probability lies within [0, 1].",
    "no_missing_values": "No forecast field is empty.",
    "adverse_decisions_have_reasons": "Every referred or declined application has a reason from the catalogue, "
    "at most one per factor family; none cites a protected or restricted attribute; approved applications carry none.",
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
    repeated_families: int  # notices giving two statements of one factor family

    def verdicts(self) -> dict[str, bool]:
        """Whether each forecast check passes, by check name."""
        return {
            "one_row_per_application": not (self.missing or self.extra or self.duplicated),
            "probabilities_in_unit_interval": self.probabilities_outside_unit_interval == 0,
            "no_missing_values": not self.empty_fields,
            "adverse_decisions_have_reasons": not (
                self.adverse_without_reason
                or self.approved_with_reason
                or self.reasons_outside_catalogue
                or self.repeated_families
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
    families = statement_families()
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
        reasons_outside_catalogue={
            text: int(n) for text, n in given[~given.isin(list(families))].value_counts().items()
        },
        repeated_families=repeated_families(given, families),
    )


def repeated_families(given: pd.Series, families: dict[str, str]) -> int:
    """Rows (the first index level of `given`) whose statements name one factor family twice."""
    per_row = given.map(families).dropna().groupby(level=0)
    return int((per_row.nunique() < per_row.size()).sum())


@dataclass(frozen=True)
class NoticeSettings:
    """The decision date the month's notices carry; empty means the first day after the month closes."""

    decision_date: str = ""

    def __post_init__(self) -> None:
        if self.decision_date and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", self.decision_date):
            raise ValueError(f"decision_date must be an ISO date (YYYY-MM-DD), got {self.decision_date!r}")


NOTICE_COLUMNS = [
    schema.ID_COLUMN,
    "decision",
    *reason_columns(),
    "model_version",
    "decision_date",
    "decided_by",  # model or underwriter
    "application_date",  # empty for a batch decline: the monthly file does not hold it
]


def adverse_action_notices(table: pd.DataFrame, month: str, settings: NoticeSettings) -> pd.DataFrame:
    """One notice per batch decline (a referral is no decision: an underwriter makes it), dated by the batch's
    decision date; SK_ID_CURR, decision, reasons, model version and dates only."""
    declined = table.loc[
        table["decision"] == "decline", [schema.ID_COLUMN, "decision", *reason_columns(), "model_version"]
    ]
    dated = declined.assign(
        decision_date=settings.decision_date or first_day_after(month), decided_by="model", application_date=""
    )
    return dated[NOTICE_COLUMNS].reset_index(drop=True)
