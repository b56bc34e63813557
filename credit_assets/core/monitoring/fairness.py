"""Fair-lending monitoring: the month's decisions by sex, age band and marital status, as lenders measure them.

The protected attributes never enter the model; they are joined to the decisions here only. Per group:
count, approval rate, the adverse impact ratio (its approval rate over the policy's reference group's, see
policy.py: a fixed control group, never the month's best) with Fisher's exact one-sided p-value, mean predicted
probability and, once labels exist, default rate, ROC AUC and the true and false positive rates of flagging
(flagged = any decision but approve), from one pandas group-by per attribute (a test holds them to
fairlearn's MetricFrame). A group is judged only with at least `min_group_size` applicants ("too few to judge"
otherwise, its rates still shown). The p-values of all attributes' judged groups of the month form one family,
corrected with Holm's method; a disparity is flagged only when it is both beyond the four-fifths limit and
significant after that correction.
Demographic parity (approval rates) and equalised odds (flagging's true and false positive rates), the
largest differences between the judged groups' rates in that table, are reported beside it as context, not
as limits.
"""

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import roc_auc_score

from credit_assets.core import plots
from credit_assets.core.contract import policy, schema
from credit_assets.core.features import DAYS_PER_YEAR
from credit_assets.core.records import JsonRecord
from credit_assets.core.verdict import Severity, Verdict

UNKNOWN = "unknown"
SEXES = ("F", "M")
AGE_EDGES = (25, 35, 45, 55, 62)  # 62: Regulation B's elderly applicant (12 CFR 1002.2(o))
AGE_BANDS = ("<25", "25-34", "35-44", "45-54", "55-61", "62+")
DIFFERENCES = ("demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference")
# Below 20 applicants one decision moves a group's approval rate by 5 points or more (its AIR by 0.06 or more
# against a reference approving 80%): the rate is mostly noise. From 20 up, Fisher's exact test (no normal
# approximation to break down on small counts) tells chance from a real gap, so the floor can sit this low and
# the under-25s (35-48 a month) are judged.
MIN_GROUP_SIZE = 20
# The monitor's attributes as the policy table names them (its reference_group column gives their controls).
POLICY_ATTRIBUTES = {"sex": "sex", "age_band": "age", "marital_status": "marital status"}


@dataclass(frozen=True)
class FairnessSettings:
    """A disparity is flagged when a group of at least `min_group_size` applicants has an adverse impact ratio
    below `air_limit` (the four-fifths rule) and Fisher's exact test, Holm-corrected across the month's groups,
    puts its lower approval rate below `significance`: beyond the limit and statistically real."""

    min_group_size: int = MIN_GROUP_SIZE
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


def policy_references(rules: Sequence[policy.PolicyRule] | None = None) -> dict[str, str]:
    """Each monitored attribute's reference group, as the policy table names it."""
    named = policy.reference_groups(policy.policy() if rules is None else rules)
    missing = [name for name in POLICY_ATTRIBUTES.values() if name not in named]
    if missing:
        raise ValueError(f"the fair-lending policy names no reference group for {', '.join(missing)}")
    return {attribute: named[name] for attribute, name in POLICY_ATTRIBUTES.items()}


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
        return f"too few to judge ({group_count} < {min_group_size})"
    return None


def _approved(group: pd.Series) -> int:
    return round(group["approval_rate"] * group["count"])


def _fisher_less(group: pd.Series, reference: pd.Series) -> float:
    """Fisher's exact one-sided p-value that the group's approval rate is lower than the reference's."""
    counts = [
        [_approved(group), group["count"] - _approved(group)],
        [_approved(reference), reference["count"] - _approved(reference)],
    ]
    return float(stats.fisher_exact(counts, alternative="less").pvalue)


def adverse_impact(table: pd.DataFrame, reference_group: str, min_group_size: int) -> str | None:
    """Add each group's adverse impact ratio against the reference group and, for the judged ones, Fisher's
    one-sided p-value of its lower approval rate; returns why there are none, or None. Flags come later, after
    the multiple-comparison correction across all attributes."""
    table[["adverse_impact_ratio", "p_value", "p_holm"]] = np.nan
    table["flagged"] = False
    if reference_group not in set(table["group"]):
        raise ValueError(f"reference group {reference_group!r} is not one of {list(table['group'])}")
    reference = table.loc[table["group"] == reference_group].iloc[0]
    if reference["count"] < min_group_size:
        return f"reference group {reference_group} too few to judge ({reference['count']} < {min_group_size})"
    if reference["approval_rate"] == 0:
        return f"reference group {reference_group} has no approved application"
    members = table["count"] > 0
    table.loc[members, "adverse_impact_ratio"] = table.loc[members, "approval_rate"] / reference["approval_rate"]
    judged = table[table["excluded_from_limits"].isna() & (table["group"] != reference_group)]
    for index, group in judged.iterrows():
        table.loc[index, "p_value"] = _fisher_less(group, reference)
    return None


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the given order: the i-th smallest of m times (m - i + 1), never
    below an earlier one, at most 1. It holds the family-wise error rate whatever the tests' dependence."""
    adjusted, running = [1.0] * len(p_values), 0.0
    for rank, index in enumerate(sorted(range(len(p_values)), key=lambda i: p_values[i])):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def correct_for_multiplicity(tables: Mapping[str, pd.DataFrame], settings: FairnessSettings) -> None:
    """Holm across every attribute's tested groups of the month, one family (a month makes a dozen comparisons;
    uncorrected, one in two months would show a chance 'significant' gap), then flag the groups whose ratio is
    below the limit and whose corrected p-value is below the significance level."""
    tested = [(name, index) for name, table in tables.items() for index in table.index[table["p_value"].notna()]]
    corrected = holm([tables[name].at[index, "p_value"] for name, index in tested])
    for (name, index), p_holm in zip(tested, corrected, strict=True):
        table = tables[name]
        table.at[index, "p_holm"] = p_holm
        beyond_limit = table.at[index, "adverse_impact_ratio"] < settings.air_limit
        table.at[index, "flagged"] = bool(beyond_limit and p_holm < settings.significance)


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


def judged_groups(
    groups: pd.Series,
    flagged: np.ndarray,
    labels: np.ndarray | None,
    probability: np.ndarray,
    settings: FairnessSettings,
    reference_group: str,
) -> tuple[pd.DataFrame, str | None]:
    """Group table of one protected attribute with adverse impact ratios and p-values (not yet corrected), and
    why there are no ratios, if so."""
    table = group_table(flagged, labels, probability, groups)
    table["excluded_from_limits"] = [exclusion(n, settings.min_group_size) for n in table["count"]]
    return table, adverse_impact(table, reference_group, settings.min_group_size)


def summary(
    table: pd.DataFrame, no_ratio: str | None, labels: np.ndarray | None, settings: FairnessSettings, reference: str
) -> dict[str, Any]:
    """One attribute's figures: its reference group, group rows and the between-group differences."""
    min_group_size = settings.min_group_size
    parity_values, parity_reason = parity(table, min_group_size)
    odds_value, odds_reason = equalised_odds(labels, table, min_group_size)
    not_evaluated = {
        "adverse_impact_ratio": no_ratio,
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


def assess(
    month: str, frame: pd.DataFrame, settings: FairnessSettings, references: Mapping[str, str] | None = None
) -> Fairness:
    """Fairness figures of a month: forecasts (probability, decision) joined to CODE_GENDER, DAYS_BIRTH, TARGET;
    each attribute's groups against its reference group (the policy table's unless `references` names them)."""
    references = dict(references or policy_references())
    labelled = schema.TARGET_COLUMN in frame.columns and bool(frame[schema.TARGET_COLUMN].notna().all())
    labels = frame[schema.TARGET_COLUMN].to_numpy(dtype="int64") if labelled else None
    flagged = (frame["decision"] != "approve").to_numpy(dtype="int64")
    probability = frame["default_probability"].to_numpy(dtype="float64")
    judged = {
        name: judged_groups(groups, flagged, labels, probability, settings, references[name])
        for name, groups in sensitive_attributes(frame).items()
    }
    correct_for_multiplicity({name: table for name, (table, _) in judged.items()}, settings)
    return Fairness(
        month=month,
        rows=len(frame),
        labelled=labelled,
        limits=asdict(settings),
        attributes={
            name: summary(table, no_ratio, labels, settings, references[name])
            for name, (table, no_ratio) in judged.items()
        },
    )


def warning_figures(result: Fairness) -> list[dict[str, Any]]:
    """The figures behind each flagged group: its size and approval rate, its reference's, AIR, p and Holm p."""
    found = []
    for attribute, figures in result.attributes.items():
        rows = {group["group"]: group for group in figures["groups"]}
        reference = rows[figures["reference_group"]]
        found += [
            {
                "attribute": attribute,
                "group": group["group"],
                "n": group["count"],
                "approval_rate": group["approval_rate"],
                "reference_group": reference["group"],
                "reference_n": reference["count"],
                "reference_approval_rate": reference["approval_rate"],
                "adverse_impact_ratio": group["adverse_impact_ratio"],
                "p_value": group["p_value"],
                "p_holm": group["p_holm"],
            }
            for group in figures["groups"]
            if group["flagged"]
        ]
    return found


def disparities(result: Fairness) -> list[str]:
    """One line per flagged group: its size, approval rate against the reference group's, AIR, p and Holm p."""
    limits = result.limits
    return [
        f"{w['attribute']} {w['group']}: n = {w['n']}, approved {w['approval_rate']:.3f} against "
        f"{w['reference_approval_rate']:.3f} for reference {w['reference_group']} (n = {w['reference_n']}), "
        f"AIR {w['adverse_impact_ratio']:.3f} < {limits['air_limit']:.2f}, p = {w['p_value']:.2g}, "
        f"Holm-corrected p = {w['p_holm']:.2g} < {limits['significance']:g}"
        for w in warning_figures(result)
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
        figures={
            "warnings": warning_figures(result),
            "adverse_impact_ratios": ratios,
            "not_evaluated": not_evaluated(result),
            "limits": result.limits,
        },
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
    "p_holm": "p (Holm)",
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


def short_note(group: dict[str, Any], min_group_size: int, reference: str) -> str:
    """In a few characters: 'reference' for the reference group, and why a group is not judged."""
    notes = ["reference" if group["group"] == reference else ""]
    if group["count"] == 0:
        notes.append("no members")
    elif group["excluded_from_limits"] is not None:
        notes.append(f"too few to judge (n < {min_group_size})")
    return ", ".join(note for note in notes if note)


def decision_table(groups: list[dict[str, Any]], min_group_size: int, reference: str) -> pd.DataFrame:
    """Per group: size, approval rate, adverse impact ratio, p-value raw and Holm-corrected, flag, and a note
    naming the reference group and why a group is not judged."""
    table = pd.DataFrame(groups)[list(DECISION_COLUMNS)].rename(columns=DECISION_COLUMNS)
    table["note"] = [short_note(group, min_group_size, reference) for group in groups]
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
