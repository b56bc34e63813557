"""A month of live decisions folded into the monitoring the batch gets: decision counts by model version and caller,
underwriters' outcomes, drift against the champion's training window, fair-lending figures of the final decisions,
performance once labels land, the override report and the comparison with the batch forecasts.

Every figure reuses the batch's code (features, drift, fairness, performance): live traffic is judged exactly as
a monthly file is. A live decision's month is the UTC month it was made; its application date is that moment.
"""

from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from credit_assets.core.contract import schema
from credit_assets.core.contract.normalise import normalise
from credit_assets.core.decisions.live import records_frame
from credit_assets.core.decisions.log import UNDERWRITER_REASONS, LiveDecision, Underwriting, decisions_frame
from credit_assets.core.features import build_features
from credit_assets.core.modeling.models import Model
from credit_assets.core.modeling.training import FeatureLoader
from credit_assets.core.monitoring import drift, fairness, performance
from credit_assets.core.monitoring.drift import DriftSettings
from credit_assets.core.monitoring.fairness import FairnessSettings
from credit_assets.core.records import JsonRecord
from credit_assets.core.scoring import DECISIONS, decision_counts, decision_shares, reason_columns
from credit_assets.core.verdict import Severity, Verdict

ID = schema.ID_COLUMN
PARITY_TOLERANCE = 1e-9  # the live service runs the batch's code: anything beyond rounding noise is a defect
EXAMPLES = 5  # offenders a check names; the counts say how many there are in all
PROTECTED = ("CODE_GENDER", "DAYS_BIRTH", "NAME_FAMILY_STATUS")
FINAL = "final_decision"


@dataclass(frozen=True)
class FoldSettings:
    """The thresholds the month's live traffic is judged by: the batch's drift and fairness settings."""

    drift: DriftSettings = DriftSettings()
    fairness: FairnessSettings = FairnessSettings()


def month_table(decisions: list[LiveDecision], underwriting: dict[str, Underwriting]) -> pd.DataFrame:
    """One row per logged decision (forecast-shaped) with its underwriter's outcome and the final decision."""
    frame = decisions_frame(decisions)
    entries = [underwriting.get(d.decision_id) for d in decisions]
    frame["underwritten_at"] = [e.decided_at if e else "" for e in entries]
    frame["underwriter"] = [e.underwriter if e else "" for e in entries]
    frame["reason_code"] = [e.reason_code if e else "" for e in entries]
    frame[FINAL] = [e.final_decision if e else d.decision for d, e in zip(decisions, entries, strict=True)]
    frame["decided_by"] = ["underwriter" if e else "model" for e in entries]
    frame["override"] = [bool(e and e.override) for e in entries]
    return frame


def latest_per_application(table: pd.DataFrame) -> pd.DataFrame:
    """An application decided more than once counts by its latest decision (the log's order is the time order)."""
    return table.drop_duplicates(ID, keep="last").reset_index(drop=True)


def inputs_features(decisions: list[LiveDecision]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The logged records as the batch holds them: validated (normalised) and as model features."""
    validated = normalise(records_frame([d.inputs for d in decisions]))
    return validated, build_features(validated)


def main_version(decisions: list[LiveDecision]) -> str | None:
    """The model version that decided most of the month (the later one on a tie), or None without decisions."""
    counts: dict[str, int] = {}
    for decision in decisions:
        counts[decision.model_version] = counts.get(decision.model_version, 0) + 1
    return max(reversed(list(counts)), key=counts.__getitem__) if counts else None


def breakdown(table: pd.DataFrame, column: str) -> list[dict[str, Any]]:
    """Per value of `column` (model version, caller): decisions, each automatic decision's count and share."""
    rows = []
    for value, group in table.groupby(column, sort=True):
        shares = decision_shares(group)
        rows.append(
            {column: value, "decisions": len(group), **decision_counts(group)}
            | {f"{decision}_share": shares[decision] for decision in DECISIONS}
        )
    return rows


def referral_outcomes(table: pd.DataFrame) -> dict[str, int]:
    """Referred decisions: how many underwriters approved, declined, and how many still wait."""
    referred = table[table["decision"] == "review"]
    return {
        "referred": len(referred),
        "approved": int((referred[FINAL] == "approve").sum()),
        "declined": int((referred[FINAL] == "decline").sum()),
        "pending": int((referred[FINAL] == "review").sum()),
    }


@dataclass(frozen=True)
class BatchComparison(JsonRecord):
    """Logged decisions against the month's batch forecasts of the same applications."""

    forecasts_present: bool
    logged: int
    in_batch: int  # logged decisions whose application the batch scored
    compared: int  # ... by the same model version
    mismatched: int
    not_comparable: dict[str, int]  # "live version vs batch version": decisions scored by different versions
    examples: list[dict[str, Any]]
    tolerance: float = PARITY_TOLERANCE


def _differences(row: pd.Series) -> list[str]:
    fields = []
    if abs(row["default_probability_live"] - row["default_probability_batch"]) > PARITY_TOLERANCE:
        fields.append("default_probability")
    if row["decision_live"] != row["decision_batch"]:
        fields.append("decision")
    if any(row[f"{c}_live"] != row[f"{c}_batch"] for c in reason_columns()):
        fields.append("reasons")
    return fields


def _example(row: pd.Series, fields: list[str]) -> dict[str, Any]:
    return {
        "decision_id": row["decision_id"],
        ID: int(row[ID]),
        "differs_in": ", ".join(fields),
        "live_probability": float(row["default_probability_live"]),
        "batch_probability": float(row["default_probability_batch"]),
        "live_decision": row["decision_live"],
        "batch_decision": row["decision_batch"],
    }


def compare_with_batch(table: pd.DataFrame, forecasts: pd.DataFrame | None) -> BatchComparison:
    """Every logged decision whose application the batch scored with the same model version: probability within
    PARITY_TOLERANCE, the same decision and the same reasons; other versions are counted, not compared."""
    if forecasts is None:
        return BatchComparison(False, len(table), 0, 0, 0, {}, [])
    columns = [ID, "default_probability", "decision", *reason_columns(), "model_version"]
    both = table.merge(forecasts[columns], on=ID, suffixes=("_live", "_batch"))
    same = both["model_version_live"] == both["model_version_batch"]
    others = both.loc[~same, ["model_version_live", "model_version_batch"]].value_counts()
    found = [(row, _differences(row)) for _, row in both[same].iterrows()]
    wrong = [(row, fields) for row, fields in found if fields]
    return BatchComparison(
        forecasts_present=True,
        logged=len(table),
        in_batch=len(both),
        compared=int(same.sum()),
        mismatched=len(wrong),
        not_comparable={f"{live} vs {batch}": int(n) for (live, batch), n in others.items()},
        examples=[_example(row, fields) for row, fields in wrong[:EXAMPLES]],
    )


def live_matches_batch(found: BatchComparison) -> Verdict:
    """Fail when a logged decision differs from the batch forecast of the same application and model version."""
    figures = asdict(found)
    if not found.forecasts_present:
        return Verdict(True, f"{found.logged} logged decision(s); no batch forecasts of the month yet", figures=figures)
    others = sum(found.not_comparable.values())
    told = (
        f"{found.compared} of {found.in_batch} logged decision(s) in the batch compared (same model version), "
        f"{others} scored by another version (not comparable)"
    )
    if found.mismatched:
        return Verdict(False, f"{found.mismatched} differ from the batch: {told}", Severity.ERROR, figures)
    return Verdict(True, f"every one matches: {told}", Severity.ERROR, figures)


@dataclass(frozen=True)
class OverrideReport(JsonRecord):
    """Underwriters' decisions of the month: overrides of automatic decisions and decisions on referrals, by reason
    code and by protected group (unmonitored overrides are a known fair-lending failure)."""

    automatic: int  # automatic approvals and declines, the decisions an override can turn round
    overrides: int
    override_rate: float | None
    referrals: int
    referrals_decided: int
    by_reason: list[dict[str, Any]]
    by_group: dict[str, list[dict[str, Any]]]


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def reason_rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Per reason code an underwriter gave: its label, overrides and referral decisions, rate among overrides."""
    decided = table[table["reason_code"] != ""]
    overrides = int(decided["override"].sum())
    rows = []
    for code, group in decided.groupby("reason_code", sort=True):
        reason = UNDERWRITER_REASONS.get(code)
        count = int(group["override"].sum())
        rows.append(
            {
                "reason_code": code,
                "label": reason.label if reason else "",
                "final_decision": reason.final_decision if reason else "",
                "overrides": count,
                "referral_decisions": int((group["decision"] == "review").sum()),
                "share_of_overrides": _rate(count, overrides),
            }
        )
    return rows


def group_rows(table: pd.DataFrame, groups: pd.Series) -> list[dict[str, Any]]:
    """Per group of one protected attribute: overrides among its automatic decisions, and its referrals'
    underwriter outcomes."""
    rows = []
    for group in groups.cat.categories:
        members = table[(groups == group).to_numpy()]
        automatic = members[members["decision"] != "review"]
        referred = members[members["decision"] == "review"]
        overrides = automatic[automatic["override"]]
        decided = referred[referred[FINAL] != "review"]
        rows.append(
            {
                "group": str(group),
                "automatic": len(automatic),
                "overrides": len(overrides),
                "override_rate": _rate(len(overrides), len(automatic)),
                "overrides_to_approve": int((overrides[FINAL] == "approve").sum()),
                "overrides_to_decline": int((overrides[FINAL] == "decline").sum()),
                "referrals": len(referred),
                "referrals_decided": len(decided),
                "referral_approval_rate": _rate(int((decided[FINAL] == "approve").sum()), len(decided)),
            }
        )
    return rows


def override_report(table: pd.DataFrame, validated: pd.DataFrame) -> OverrideReport:
    """The month's overrides and referral decisions by reason code and by sex, age band and marital status,
    grouped as the fairness monitoring groups them."""
    automatic = int((table["decision"] != "review").sum())
    overrides = int(table["override"].sum())
    referred = table["decision"] == "review"
    return OverrideReport(
        automatic=automatic,
        overrides=overrides,
        override_rate=_rate(overrides, automatic),
        referrals=int(referred.sum()),
        referrals_decided=int((referred & (table[FINAL] != "review")).sum()),
        by_reason=reason_rows(table),
        by_group={name: group_rows(table, groups) for name, groups in fairness.sensitive_attributes(validated).items()},
    )


def labels_of(validated: pd.DataFrame | None) -> pd.DataFrame | None:
    """SK_ID_CURR and TARGET of the month's labelled applications, or None before the labels land."""
    if validated is None or schema.TARGET_COLUMN not in validated.columns:
        return None
    labelled = validated.loc[validated[schema.TARGET_COLUMN].notna(), [ID, schema.TARGET_COLUMN]]
    return labelled if len(labelled) else None


def final_frame(table: pd.DataFrame, validated: pd.DataFrame, labels: pd.DataFrame | None) -> pd.DataFrame:
    """The latest decision per application as the fairness code reads forecasts: probability, final decision,
    the protected attributes from the logged inputs and, where known, the outcome."""
    latest = latest_per_application(table)
    frame = latest[[ID, "default_probability", FINAL]].rename(columns={FINAL: "decision"})
    frame = frame.merge(validated[[ID, *PROTECTED]].drop_duplicates(ID, keep="last"), on=ID)
    return frame if labels is None else frame.merge(labels, on=ID, how="left")


def live_performance(month: str, frame: pd.DataFrame, model: Model) -> dict[str, Any] | None:
    """Performance of the final decisions' probabilities once their applications' labels are known (both classes)."""
    if schema.TARGET_COLUMN not in frame.columns:
        return None
    labelled = frame[frame[schema.TARGET_COLUMN].notna()]
    if labelled[schema.TARGET_COLUMN].nunique() < 2:
        return None
    labels = labelled[[ID, schema.TARGET_COLUMN]].astype({schema.TARGET_COLUMN: "int64"})
    return performance.measure(month, labels, labelled.drop(columns=schema.TARGET_COLUMN), model.card).to_dict()


@dataclass(frozen=True)
class DecisionsFold(JsonRecord):
    """The month's live decisions as monitoring figures; the nested results are the batch monitors' own records."""

    month: str
    decisions: int
    applications: int
    by_decision: dict[str, int]  # automatic decisions
    shares: dict[str, float]
    final_by_decision: dict[str, int]  # latest decision per application after underwriting; review: still waiting
    by_model_version: list[dict[str, Any]]
    by_caller: list[dict[str, Any]]
    referrals: dict[str, int]
    comparison: dict[str, Any]  # BatchComparison
    overrides: dict[str, Any]  # OverrideReport
    drift: dict[str, Any] | None  # monitoring.drift.Drift against the main version's window
    fairness: dict[str, Any] | None  # monitoring.fairness.Fairness of the final decisions
    performance: dict[str, Any] | None  # monitoring.performance.Performance once labelled
    not_evaluated: dict[str, str]


def _not_evaluated(table: pd.DataFrame, performance_found: dict[str, Any] | None) -> dict[str, str]:
    if table.empty:
        return {name: "no live decisions this month" for name in ("drift", "fairness", "performance", "overrides")}
    return {} if performance_found else {"performance": "no labels (of both classes) for the month's live decisions"}


def monitors(
    month: str,
    decisions: list[LiveDecision],
    table: pd.DataFrame,
    validated: pd.DataFrame | None,
    model: Model,
    load: FeatureLoader,
    settings: FoldSettings,
) -> tuple[dict[str, dict[str, Any] | None], OverrideReport]:
    """Drift, fairness and performance of the month's live traffic with the batch monitors, and its override report."""
    inputs, features = inputs_features(decisions)
    own = (table["model_version"] == model.version).to_numpy()  # the prediction PSI compares one model with itself
    joined = final_frame(table, inputs, labels_of(validated))
    found = {
        "drift": drift.measure(
            month, features, table.loc[own, "default_probability"], model, load, settings.drift
        ).to_dict(),
        "fairness": fairness.assess(month, joined, settings.fairness).to_dict(),
        "performance": live_performance(month, joined, model),
    }
    return found, override_report(table, inputs)


def fold(
    month: str,
    decisions: list[LiveDecision],
    underwriting: dict[str, Underwriting],
    forecasts: pd.DataFrame | None,
    validated: pd.DataFrame | None,
    model: Model | None,
    load: FeatureLoader,
    settings: FoldSettings,
) -> tuple[DecisionsFold, pd.DataFrame]:
    """The month's fold and its decision table; `model` is the main version's (None without decisions), `load`
    reads the feature months of its training window, `validated` the month's applications when ingested."""
    table = month_table(decisions, underwriting)
    found: dict[str, dict[str, Any] | None] = {"drift": None, "fairness": None, "performance": None}
    overrides = OverrideReport(0, 0, None, 0, 0, [], {})
    if decisions and model is not None:
        found, overrides = monitors(month, decisions, table, validated, model, load, settings)
    latest = latest_per_application(table)
    result = DecisionsFold(
        month=month,
        decisions=len(table),
        applications=len(latest),
        by_decision=decision_counts(table),
        shares=decision_shares(table),
        final_by_decision=decision_counts(latest.assign(decision=latest[FINAL])),
        by_model_version=breakdown(table, "model_version"),
        by_caller=breakdown(table, "caller"),
        referrals=referral_outcomes(table),
        comparison=compare_with_batch(table, forecasts).to_dict(),
        overrides=overrides.to_dict(),
        **found,
        not_evaluated=_not_evaluated(table, found["performance"]),
    )
    return result, table
