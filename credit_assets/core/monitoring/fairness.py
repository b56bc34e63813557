"""Fairness: the month's decisions by gender (the article names it) and by age band, measured with fairlearn.

Positive prediction = any decision but approve (the applicant is flagged); positive label = default (TARGET 1).
Per group: count, approval rate, mean predicted probability and, once labels exist, default rate, ROC AUC and
the true and false positive rates of flagging. Per attribute: demographic parity of approval and the
equalised-odds difference, over the groups with at least `min_group_size` members; smaller groups are
reported but left out of the limits, and equalised odds also needs groups that hold both classes.
"""

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import roc_auc_score

from credit_assets.core import plots
from credit_assets.core.contract import schema
from credit_assets.core.features import DAYS_PER_YEAR
from credit_assets.core.records import JsonRecord
from credit_assets.core.verdict import Severity, Verdict

UNKNOWN = "unknown"
GENDERS = ("F", "M")
AGE_EDGES = (25, 35, 45, 55, 65)
AGE_BANDS = ("<25", "25-34", "35-44", "45-54", "55-64", "65+")
DIFFERENCES = ("demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference")
# Each limited difference and the config field that bounds it.
LIMITS = {
    "demographic_parity_difference": "max_demographic_parity_difference",
    "equalized_odds_difference": "max_equalized_odds_difference",
}


@dataclass(frozen=True)
class FairnessSettings:
    """Limits on the between-group differences; groups below `min_group_size` are reported but not limited."""

    max_demographic_parity_difference: float = 0.10
    max_equalized_odds_difference: float = 0.10
    min_group_size: int = 30


@dataclass(frozen=True)
class Fairness(JsonRecord):
    """A month's fairness figures: per sensitive attribute, its group table and between-group differences."""

    month: str
    rows: int
    labelled: bool
    limits: dict[str, Any]
    attributes: dict[str, dict[str, Any]]


def gender_groups(gender: pd.Series) -> pd.Series:
    """CODE_GENDER as F / M / unknown (missing, or any placeholder such as 'XNA')."""
    text = gender.astype("string")
    known = text.where(text.isin(GENDERS), UNKNOWN)
    return pd.Series(pd.Categorical(known, categories=[*GENDERS, UNKNOWN]), index=gender.index, name="gender")


def age_bands(days_birth: pd.Series) -> pd.Series:
    """Age at application in bands <25, 25-34, ..., 65+ (DAYS_BIRTH counts days before the application)."""
    years = -days_birth / DAYS_PER_YEAR
    bands = pd.cut(years, bins=[-np.inf, *AGE_EDGES, np.inf], right=False, labels=list(AGE_BANDS))
    return bands.rename("age_band")


def sensitive_attributes(frame: pd.DataFrame) -> dict[str, pd.Series]:
    return {"gender": gender_groups(frame["CODE_GENDER"]), "age_band": age_bands(frame["DAYS_BIRTH"])}


def _approval_rate(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return 1.0 - float(selection_rate(y_true, y_pred))


def _mean_probability(y_true: np.ndarray, y_pred: np.ndarray, probability: np.ndarray) -> float:
    return float(np.mean(probability))


def _default_rate(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_true))


def _roc_auc(y_true: np.ndarray, y_pred: np.ndarray, probability: np.ndarray) -> float:
    return float(roc_auc_score(y_true, probability)) if len(np.unique(y_true)) == 2 else np.nan


# fairlearn's rates are 0, not undefined, for a group without positives (or negatives): guard them.
def _true_positive_rate(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(true_positive_rate(y_true, y_pred, pos_label=1)) if (y_true == 1).any() else np.nan


def _false_positive_rate(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(false_positive_rate(y_true, y_pred, pos_label=1)) if (y_true == 0).any() else np.nan


PREDICTION_METRICS = {"count": count, "approval_rate": _approval_rate, "mean_probability": _mean_probability}
LABELLED_METRICS = {
    "default_rate": _default_rate,
    "roc_auc": _roc_auc,
    "true_positive_rate": _true_positive_rate,
    "false_positive_rate": _false_positive_rate,
}
NEEDS_PROBABILITY = ("mean_probability", "roc_auc")


def _number(value: Any) -> float | None:
    return None if pd.isna(value) else float(value)


def group_table(
    flagged: np.ndarray, labels: np.ndarray | None, probability: np.ndarray, groups: pd.Series
) -> pd.DataFrame:
    """Per-group metrics from fairlearn's MetricFrame; every level of `groups` appears, absent ones with count 0."""
    metrics = {**PREDICTION_METRICS, **(LABELLED_METRICS if labels is not None else {})}
    frame = MetricFrame(
        metrics=metrics,
        # Without labels only prediction metrics are requested, and they ignore y_true.
        y_true=labels if labels is not None else np.zeros_like(flagged),
        y_pred=flagged,
        sensitive_features=groups,
        sample_params={name: {"probability": probability} for name in NEEDS_PROBABILITY if name in metrics},
    )
    table = frame.by_group.reindex(groups.cat.categories).reindex(columns=[*PREDICTION_METRICS, *LABELLED_METRICS])
    table["count"] = table["count"].fillna(0).astype("int64")
    return table.rename_axis("group").reset_index()


def exclusion(group_count: int, min_group_size: int) -> str | None:
    """Why a group stays out of the limits, or None when it counts."""
    if group_count == 0:
        return "no members this month"
    if group_count < min_group_size:
        return f"count {group_count} < min_group_size {min_group_size}"
    return None


def _too_few_groups(groups: pd.Series, what: str) -> str | None:
    return None if groups.nunique() >= 2 else f"fewer than two groups {what}"


def parity(
    approved: np.ndarray, groups: pd.Series, counted: np.ndarray, min_group_size: int
) -> tuple[dict[str, float | None], str | None]:
    """Demographic-parity difference and ratio of approval between the `counted` rows' groups, or why not evaluated."""
    approved, groups = approved[counted], groups[counted]
    reason = _too_few_groups(groups, f"with at least {min_group_size} members")
    if reason:
        return {"demographic_parity_difference": None, "demographic_parity_ratio": None}, reason
    # Selection rate ignores y_true.
    return {
        "demographic_parity_difference": _number(
            demographic_parity_difference(approved, approved, sensitive_features=groups)
        ),
        "demographic_parity_ratio": _number(demographic_parity_ratio(approved, approved, sensitive_features=groups)),
    }, None


def equalised_odds(
    labels: np.ndarray | None, flagged: np.ndarray, groups: pd.Series, counted: np.ndarray, min_group_size: int
) -> tuple[float | None, str | None]:
    """Worst of the TPR and FPR differences of flagging between the `counted` rows' groups, or why not evaluated."""
    if labels is None:
        return None, "no labels this month"
    if len(np.unique(labels)) < 2:
        return None, "one class only this month: true and false positive rates undefined"
    reason = _too_few_groups(
        groups[counted], f"with at least {min_group_size} members holding both defaults and non-defaults"
    )
    if reason:
        return None, reason
    return _number(
        equalized_odds_difference(labels[counted], flagged[counted], sensitive_features=groups[counted])
    ), None


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready group rows: counts as int, undefined rates as None."""
    text = ("group", "excluded_from_limits")
    return [
        {k: (None if pd.isna(v) else v) if k in text else _number(v) for k, v in row.items()}
        | {"count": int(row["count"])}
        for row in table.to_dict(orient="records")
    ]


def assess_attribute(
    groups: pd.Series, flagged: np.ndarray, labels: np.ndarray | None, probability: np.ndarray, min_group_size: int
) -> dict[str, Any]:
    """Group table and between-group differences for one sensitive attribute."""
    table = group_table(flagged, labels, probability, groups)
    table["excluded_from_limits"] = [exclusion(n, min_group_size) for n in table["count"]]
    counted = groups.isin(table.loc[table["excluded_from_limits"].isna(), "group"]).to_numpy()
    both_classes = table["true_positive_rate"].notna() & table["false_positive_rate"].notna()
    counted_for_odds = counted & groups.isin(table.loc[both_classes, "group"]).to_numpy()
    parity_values, parity_reason = parity(1 - flagged, groups, counted, min_group_size)
    odds_value, odds_reason = equalised_odds(labels, flagged, groups, counted_for_odds, min_group_size)
    not_evaluated = {"demographic_parity_difference": parity_reason, "equalized_odds_difference": odds_reason}
    return {
        "groups": _records(table),
        **parity_values,
        "equalized_odds_difference": odds_value,
        "not_evaluated": {metric: reason for metric, reason in not_evaluated.items() if reason},
    }


def assess(month: str, frame: pd.DataFrame, settings: FairnessSettings) -> Fairness:
    """Fairness figures of a month: forecasts (probability, decision) joined to CODE_GENDER, DAYS_BIRTH, TARGET."""
    labelled = schema.TARGET_COLUMN in frame.columns and bool(frame[schema.TARGET_COLUMN].notna().all())
    labels = frame[schema.TARGET_COLUMN].to_numpy(dtype="int64") if labelled else None
    flagged = (frame["decision"] != "approve").to_numpy(dtype="int64")
    probability = frame["default_probability"].to_numpy(dtype="float64")
    return Fairness(
        month=month,
        rows=len(frame),
        labelled=labelled,
        limits=asdict(settings),
        attributes={
            name: assess_attribute(groups, flagged, labels, probability, settings.min_group_size)
            for name, groups in sensitive_attributes(frame).items()
        },
    )


def limit_breaches(result: Fairness) -> list[str]:
    """One line per evaluated difference above its limit: attribute, metric, value and limit."""
    return [
        f"{attribute} {metric} {figures[metric]:.4f} > limit {result.limits[limit]:.4f}"
        for attribute, figures in result.attributes.items()
        for metric, limit in LIMITS.items()
        if figures[metric] is not None and figures[metric] > result.limits[limit]
    ]


def not_evaluated(result: Fairness) -> dict[str, str]:
    """Why each difference that was not evaluated was not, keyed attribute.metric."""
    return {
        f"{a}.{m}": reason for a, figures in result.attributes.items() for m, reason in figures["not_evaluated"].items()
    }


def within_limits(result: Fairness) -> Verdict:
    """Warn, naming attribute, metric and value, when a difference exceeds the limit it was measured against."""
    breaches = limit_breaches(result)
    evaluated = {
        f"{attribute}.{metric}": figures[metric]
        for attribute, figures in result.attributes.items()
        for metric in LIMITS
        if figures[metric] is not None
    }
    return Verdict(
        passed=not breaches,
        description="; ".join(breaches) if breaches else f"{len(evaluated)} evaluated difference(s) within limits",
        severity=Severity.WARN,
        figures={"evaluated": evaluated, "not_evaluated": not_evaluated(result), "limits": result.limits},
    )


def month_frame(forecasts: pd.DataFrame, validated: pd.DataFrame) -> pd.DataFrame:
    """The month's forecasts joined to the applicants' gender, birth date and (when known) outcome."""
    labelled = schema.TARGET_COLUMN in validated.columns
    columns = [schema.ID_COLUMN, "CODE_GENDER", "DAYS_BIRTH", *([schema.TARGET_COLUMN] if labelled else [])]
    predictions = forecasts[[schema.ID_COLUMN, "default_probability", "decision"]]
    return predictions.merge(validated[columns], on=schema.ID_COLUMN)


def rates_png(attribute: str, groups: pd.DataFrame, labelled: bool) -> bytes:
    """Approval rate (and default rate once labelled) per group as bars, each group labelled with its count."""
    figure, axes = plots.new_figure(7, 4)
    rates = ["approval_rate", *(["default_rate"] if labelled else [])]
    width = 0.8 / len(rates)
    positions = np.arange(len(groups))
    for i, rate in enumerate(rates):
        axes.bar(
            positions + (i - (len(rates) - 1) / 2) * width,
            groups[rate].astype("float64"),
            width,
            label=rate.replace("_", " "),
        )
    axes.set_xticks(positions, [f"{g}\nn={n}" for g, n in zip(groups["group"], groups["count"], strict=True)])
    # Headroom above 1 keeps the legend off the bars.
    axes.set(xlim=(-0.5, len(groups) - 0.5), ylim=(0, 1.15), yticks=np.linspace(0, 1, 6), ylabel="rate")
    axes.set_title(f"Approval and default rate by {attribute.replace('_', ' ')}")
    axes.legend(loc="upper center", ncols=len(rates))
    return plots.png_bytes(figure)
