"""Fair-lending monitoring: the month's decisions by sex, age band and marital status, as lenders measure them.

The protected attributes never enter the model; they are joined to the decisions here only. Per group:
count, approval rate, the adverse impact ratio (its approval rate over the most favoured group's) with
Fisher's exact one-sided p-value, mean predicted probability and, once labels exist, default rate, ROC AUC
and the true and false positive rates of flagging (flagged = any decision but approve), from one pandas
group-by per attribute (a test holds them to fairlearn's MetricFrame). A group is judged only with at least
`min_group_size` applicants ("too few applicants" otherwise), and a disparity is flagged only when it is both
beyond the four-fifths limit and statistically significant.
Demographic parity (approval rates) and equalised odds (flagging's true and false positive rates), the
largest differences between the judged groups' rates in that table, are reported beside it as context, not
as limits.
"""

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import roc_auc_score

from credit_assets.core import plots
from credit_assets.core.contract import schema
from credit_assets.core.features import DAYS_PER_YEAR
from credit_assets.core.records import JsonRecord
from credit_assets.core.verdict import Severity, Verdict

UNKNOWN = "unknown"
SEXES = ("F", "M")
AGE_EDGES = (25, 35, 45, 55, 62)  # 62: Regulation B's elderly applicant (12 CFR 1002.2(o))
AGE_BANDS = ("<25", "25-34", "35-44", "45-54", "55-61", "62+")
DIFFERENCES = ("demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference")


@dataclass(frozen=True)
class FairnessSettings:
    """A disparity is flagged when a group of at least `min_group_size` applicants has an adverse impact ratio
    below `air_limit` (the four-fifths rule) and Fisher's exact test puts its lower approval rate below
    `significance`: beyond the limit and statistically real."""

    min_group_size: int = 50
    air_limit: float = 0.80
    significance: float = 0.05

    def __post_init__(self) -> None:
        if self.min_group_size < 1 or not 0 < self.air_limit <= 1 or not 0 < self.significance < 1:
            raise ValueError(
                "fairness settings need min_group_size >= 1, 0 < air_limit <= 1 and 0 < significance < 1, got "
                f"{self.min_group_size}, {self.air_limit}, {self.significance}"
            )


@dataclass(frozen=True)
class Fairness(JsonRecord):
    """A month's fairness figures: per sensitive attribute, its group table and between-group differences."""

    month: str
    rows: int
    labelled: bool
    limits: dict[str, Any]
    attributes: dict[str, dict[str, Any]]


def known_or_unknown(values: pd.Series, levels: tuple[str, ...], name: str) -> pd.Series:
    """A protected column as its levels plus 'unknown' (missing, or a placeholder such as 'XNA')."""
    text = values.astype("string")
    known = text.where(text.isin(levels), UNKNOWN)
    return pd.Series(pd.Categorical(known, categories=[*levels, UNKNOWN]), index=values.index, name=name)


def age_bands(days_birth: pd.Series) -> pd.Series:
    """Age at application in bands <25, 25-34, ..., 65+ (DAYS_BIRTH counts days before the application)."""
    years = -days_birth / DAYS_PER_YEAR
    bands = pd.cut(years, bins=[-np.inf, *AGE_EDGES, np.inf], right=False, labels=list(AGE_BANDS))
    return bands.rename("age_band")


def sensitive_attributes(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """The groups of the protected attributes the policy names: sex, age band and marital status."""
    statuses = tuple(level for level in schema.column("NAME_FAMILY_STATUS").levels if level != UNKNOWN.capitalize())
    return {
        "sex": known_or_unknown(frame["CODE_GENDER"], SEXES, "sex"),
        "age_band": age_bands(frame["DAYS_BIRTH"]),
        "marital_status": known_or_unknown(frame["NAME_FAMILY_STATUS"], statuses, "marital_status"),
    }


PREDICTION_METRICS = ("count", "approval_rate", "mean_probability")
LABELLED_METRICS = ("default_rate", "roc_auc", "true_positive_rate", "false_positive_rate")


def _number(value: Any) -> float | None:
    return None if pd.isna(value) else float(value)


def _auc(rows: pd.DataFrame) -> float:
    return float(roc_auc_score(rows["label"], rows["probability"])) if rows["label"].nunique() == 2 else np.nan


def _flagged_share(rows: pd.DataFrame, label: int) -> pd.Series:
    """Per group, the share flagged among the applicants with this outcome (TPR for 1, FPR for 0)."""
    return rows[rows["label"] == label].groupby("group", observed=False)["flagged"].mean()


def group_table(
    flagged: np.ndarray, labels: np.ndarray | None, probability: np.ndarray, groups: pd.Series
) -> pd.DataFrame:
    """Per-group metrics; every level of `groups` appears, absent ones with count 0.

    A rate is undefined (NaN), not 0, for a group without the applicants it is a share of: the true positive
    rate without defaults, the false positive rate without non-defaults, the AUC without both.
    """
    rows = pd.DataFrame(
        {"group": groups.reset_index(drop=True), "flagged": flagged, "probability": probability, "label": labels}
    )
    by_group = rows.groupby("group", observed=False)
    table = pd.DataFrame(
        {
            "count": by_group.size(),
            "approval_rate": 1.0 - by_group["flagged"].mean(),
            "mean_probability": by_group["probability"].mean(),
        }
    )
    if labels is not None:
        members = by_group.indices
        table["default_rate"] = by_group["label"].mean()
        table["roc_auc"] = [_auc(rows.iloc[members[group]]) if group in members else np.nan for group in table.index]
        table["true_positive_rate"] = _flagged_share(rows, 1)
        table["false_positive_rate"] = _flagged_share(rows, 0)
    return table.reindex(columns=[*PREDICTION_METRICS, *LABELLED_METRICS]).rename_axis("group").reset_index()


def exclusion(group_count: int, min_group_size: int) -> str | None:
    """Why a group is not judged, or None when it is."""
    if group_count == 0:
        return "no members this month"
    if group_count < min_group_size:
        return f"too few applicants ({group_count} < {min_group_size})"
    return None


def adverse_impact(table: pd.DataFrame, settings: FairnessSettings) -> tuple[str | None, str | None]:
    """Add each judged group's adverse impact ratio against the most favoured group, Fisher's one-sided p-value
    of its lower approval rate, and whether both flag it; returns the reference group, or why there is none."""
    judged = table[table["excluded_from_limits"].isna()]
    table["adverse_impact_ratio"] = np.nan
    table["p_value"] = np.nan
    table["flagged"] = False
    if len(judged) < 2:
        return None, f"fewer than two groups with at least {settings.min_group_size} applicants"
    reference = judged.loc[judged["approval_rate"].idxmax()]
    if reference["approval_rate"] == 0:
        return None, "no group has an approved application"
    approved_ref = round(reference["approval_rate"] * reference["count"])
    table.loc[reference.name, "adverse_impact_ratio"] = 1.0
    for index, group in judged.drop(index=reference.name).iterrows():
        approved = round(group["approval_rate"] * group["count"])
        air = group["approval_rate"] / reference["approval_rate"]
        counts = [[approved, group["count"] - approved], [approved_ref, reference["count"] - approved_ref]]
        p_value = float(stats.fisher_exact(counts, alternative="less").pvalue)
        table.loc[index, ["adverse_impact_ratio", "p_value"]] = [air, p_value]
        table.loc[index, "flagged"] = bool(air < settings.air_limit and p_value < settings.significance)
    return str(reference["group"]), None


def parity(table: pd.DataFrame, min_group_size: int) -> tuple[dict[str, float | None], str | None]:
    """Demographic-parity difference and ratio of approval between the judged groups, or why not evaluated."""
    rates = table.loc[table["excluded_from_limits"].isna(), "approval_rate"].astype("float64")
    if len(rates) < 2:
        reason = f"fewer than two groups with at least {min_group_size} members"
        return {"demographic_parity_difference": None, "demographic_parity_ratio": None}, reason
    return {
        "demographic_parity_difference": float(rates.max() - rates.min()),
        "demographic_parity_ratio": float(rates.min() / rates.max()) if rates.max() > 0 else None,
    }, None


def equalised_odds(
    labels: np.ndarray | None, table: pd.DataFrame, min_group_size: int
) -> tuple[float | None, str | None]:
    """Worst of the TPR and FPR differences of flagging between the judged groups, or why not evaluated."""
    if labels is None:
        return None, "no labels this month"
    if len(np.unique(labels)) < 2:
        return None, "one class only this month: true and false positive rates undefined"
    rates = table.loc[
        table["excluded_from_limits"].isna()
        & table["true_positive_rate"].notna()
        & table["false_positive_rate"].notna(),
        ["true_positive_rate", "false_positive_rate"],
    ].astype("float64")
    if len(rates) < 2:
        return None, f"fewer than two groups with at least {min_group_size} members with defaults and non-defaults"
    return float((rates.max() - rates.min()).max()), None


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready group rows: counts as int, flags as bool, undefined rates as None."""
    text = ("group", "excluded_from_limits")
    return [
        {k: (None if pd.isna(v) else v) if k in text else _number(v) for k, v in row.items()}
        | {"count": int(row["count"]), "flagged": bool(row["flagged"])}
        for row in table.to_dict(orient="records")
    ]


def assess_attribute(
    groups: pd.Series,
    flagged: np.ndarray,
    labels: np.ndarray | None,
    probability: np.ndarray,
    settings: FairnessSettings,
) -> dict[str, Any]:
    """Group table with adverse impact ratios, and the between-group differences, for one protected attribute."""
    min_group_size = settings.min_group_size
    table = group_table(flagged, labels, probability, groups)
    table["excluded_from_limits"] = [exclusion(n, min_group_size) for n in table["count"]]
    reference, no_reference = adverse_impact(table, settings)
    parity_values, parity_reason = parity(table, min_group_size)
    odds_value, odds_reason = equalised_odds(labels, table, min_group_size)
    not_evaluated = {
        "adverse_impact_ratio": no_reference,
        "demographic_parity_difference": parity_reason,
        "equalized_odds_difference": odds_reason,
    }
    return {
        "reference_group": reference,
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
            name: assess_attribute(groups, flagged, labels, probability, settings)
            for name, groups in sensitive_attributes(frame).items()
        },
    )


def disparities(result: Fairness) -> list[str]:
    """One line per flagged group: attribute, group, adverse impact ratio, p-value, size and reference group."""
    return [
        f"{attribute} {group['group']}: adverse impact ratio {group['adverse_impact_ratio']:.3f} < "
        f"{result.limits['air_limit']:.2f} (p = {group['p_value']:.2g}, n = {group['count']}, "
        f"against {figures['reference_group']})"
        for attribute, figures in result.attributes.items()
        for group in figures["groups"]
        if group["flagged"]
    ]


def not_evaluated(result: Fairness) -> dict[str, str]:
    """Why each figure that was not evaluated was not, keyed attribute.metric."""
    return {
        f"{a}.{m}": reason for a, figures in result.attributes.items() for m, reason in figures["not_evaluated"].items()
    }


def no_significant_adverse_impact(result: Fairness) -> Verdict:
    """Warn, naming attribute, group and figures, when a group's disparity is beyond the limit and significant."""
    found = disparities(result)
    ratios = {
        f"{attribute}.{group['group']}": group["adverse_impact_ratio"]
        for attribute, figures in result.attributes.items()
        for group in figures["groups"]
        if group["adverse_impact_ratio"] is not None
    }
    return Verdict(
        passed=not found,
        description="; ".join(found) if found else f"{len(ratios)} judged group(s): no significant adverse impact",
        severity=Severity.WARN,
        figures={"adverse_impact_ratios": ratios, "not_evaluated": not_evaluated(result), "limits": result.limits},
    )


def month_frame(forecasts: pd.DataFrame, validated: pd.DataFrame) -> pd.DataFrame:
    """The month's forecasts joined to the applicants' protected attributes and (when known) outcome."""
    labelled = schema.TARGET_COLUMN in validated.columns
    protected = ["CODE_GENDER", "DAYS_BIRTH", "NAME_FAMILY_STATUS"]
    columns = [schema.ID_COLUMN, *protected, *([schema.TARGET_COLUMN] if labelled else [])]
    predictions = forecasts[[schema.ID_COLUMN, "default_probability", "decision"]]
    return predictions.merge(validated[columns], on=schema.ID_COLUMN)


# The group tables as people read them: the group first, short column names, the judged figures in one table
# and the predictions' quality by group in a second, so neither needs sideways scrolling.
DECISION_COLUMNS = {
    "group": "group",
    "count": "n",
    "approval_rate": "approved",
    "adverse_impact_ratio": "AIR",
    "p_value": "p",
    "flagged": "flagged",
}
OUTCOME_COLUMNS = {
    "group": "group",
    "mean_probability": "mean PD",
    "default_rate": "default",
    "roc_auc": "AUC",
    "true_positive_rate": "TPR",
    "false_positive_rate": "FPR",
}


def short_exclusion(reason: str | None, min_group_size: int) -> str:
    """Why a group is not judged, in a few characters ('' when it is)."""
    return "" if reason is None else f"not judged: n < {min_group_size}"


def decision_table(groups: list[dict[str, Any]], min_group_size: int) -> pd.DataFrame:
    """Per group: size, approval rate, adverse impact ratio, p-value, flag, and why a group is not judged."""
    table = pd.DataFrame(groups)[list(DECISION_COLUMNS)].rename(columns=DECISION_COLUMNS)
    table["note"] = [short_exclusion(group["excluded_from_limits"], min_group_size) for group in groups]
    return table


def outcome_table(groups: list[dict[str, Any]], labelled: bool) -> pd.DataFrame:
    """Per group: mean predicted probability and, once labelled, default rate, AUC and flagging's TPR and FPR."""
    columns = OUTCOME_COLUMNS if labelled else dict(list(OUTCOME_COLUMNS.items())[:2])
    return pd.DataFrame(groups)[list(columns)].rename(columns=columns)


def _rates_panel(axes: Any, attribute: str, groups: pd.DataFrame, labelled: bool) -> None:
    """Approval rate (and default rate once labelled) per group as bars, each group labelled with its count."""
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
    air = [f"\nAIR {r:.2f}" if pd.notna(r) else "" for r in groups["adverse_impact_ratio"].astype("float64")]
    labels = [f"{g}\nn={n}{a}" for g, n, a in zip(groups["group"], groups["count"], air, strict=True)]
    axes.set_xticks(positions, labels, fontsize=7)
    # Headroom above 1 keeps the legend off the bars.
    axes.set(xlim=(-0.5, len(groups) - 0.5), ylim=(0, 1.15), yticks=np.linspace(0, 1, 6), ylabel="rate")
    axes.set_title(f"by {attribute.replace('_', ' ')}")
    axes.legend(loc="upper center", ncols=len(rates), fontsize=8)


def rates_png(result: Fairness) -> bytes:
    """One chart for the month: a panel of approval and default rates per group for each protected attribute."""
    figure, panels = plots.new_figure(6 * len(result.attributes), 4, panels=len(result.attributes))
    for axes, (attribute, figures) in zip(panels, result.attributes.items(), strict=True):
        _rates_panel(axes, attribute, pd.DataFrame(figures["groups"]), result.labelled)
    figure.suptitle(f"Approval and default rates by group ({result.month})")
    return plots.png_bytes(figure)
