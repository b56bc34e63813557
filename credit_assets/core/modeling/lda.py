"""The search for a less discriminatory alternative (LDA) of a month's model, documented as regulators expect it.

On the out-of-time validation slice, with the applicants' protected attributes joined there only (no model ever
reads them): a proxy analysis of the base candidate's strongest inputs (how strongly each is associated with each
protected attribute, and how much of each attribute's worst disparity it carries), then every alternative's
validation AUC, realised profit at the cut-offs, approval rate and adverse impact ratio (AIR) of every judged
group, and the policy that proposes one of them. Alternatives never use a protected attribute at decision time:
group-specific thresholds would be disparate treatment (Regulation B), so none is considered. Declined
applicants' outcomes are unknown in a real portfolio, so the AIRs are of decisions, not of outcomes.
"""

import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit

from credit_assets.core import plots
from credit_assets.core.contract import schema
from credit_assets.core.economics import EXPOSURE_COLUMN, EconomicsSettings, loan_profit
from credit_assets.core.modeling.calibration import Calibrator
from credit_assets.core.modeling.models import Model, Scorer
from credit_assets.core.modeling.registry import content_version
from credit_assets.core.modeling.settings import ModelSettings
from credit_assets.core.monitoring import fairness
from credit_assets.core.records import JsonRecord
from credit_assets.core.scoring import Cutoffs

ID, TARGET = schema.ID_COLUMN, schema.TARGET_COLUMN
PROTECTED_COLUMNS = ["CODE_GENDER", "DAYS_BIRTH", "NAME_FAMILY_STATUS"]
# Each input analysed costs one prediction of the slice and one fairness assessment. The top 20 by importance
# carry nearly all of a model's gain, so nearly all it can pass on; an input further down moves too few decisions
# to carry a disparity, and 20 keeps the analysis to about a second at full scale.
PROXY_FEATURES = 20
# The base model at a stricter and a looser approve cut-off: what a cut-off change alone would do, for the credit
# committee. Never picked: the cut-offs are the forecasts' configuration, not part of a model.
CUTOFF_FACTORS = (0.8, 1.25)
MODEL, CUTOFF = "model", "cutoff"
APPROVE = "approve"
# A new model needs a model_risk approval and a change of every later notice's reasons: an alternative is proposed
# over the base only when it raises the worst group's AIR by at least this much on the same applicants (at full
# scale the search otherwise proposed a model for +0.009, one or two decisions of a 300-applicant group).
MIN_AIR_GAIN = 0.01
POLICY = (
    "Among the model alternatives that pass every blocking verdict, whose validation AUC is at least the base's "
    "minus {auc:g}, whose realised profit on the validation slice is at least the base's minus {profit:.0%} of "
    "its magnitude and whose worst-group adverse impact ratio beats the base's by at least {gain:g}, propose the "
    "one with the highest worst-group adverse impact ratio; ties go to the higher AUC, then to the base. Cut-off "
    "alternatives are documented, never proposed: cut-offs are the forecasts' configuration, not part of a model. "
    "No alternative uses a protected attribute at decision time."
)


@dataclass(frozen=True)
class Variant:
    """What makes a model alternative: its name, in words, the inputs it lacks and its monotone setting."""

    name: str
    description: str
    features_removed: tuple[str, ...] = ()
    monotone: bool = True


@dataclass(frozen=True)
class Option:
    """A trained model alternative as the search weighs it: whether it may be champion and its slice predictions."""

    variant: Variant
    model: Model
    passed: bool  # every blocking verdict
    probabilities: np.ndarray  # calibrated, on the validation slice


@dataclass(frozen=True)
class Proxy(JsonRecord):
    """One input's association with each protected attribute and its share of each attribute's worst disparity."""

    feature: str
    kind: str  # numeric: the correlation ratio (eta) of its ranks; categorical: Cramér's V
    neutral_value: str  # what it was replaced by to measure its share: the slice's median, or its mode
    association: dict[str, float]  # attribute -> [0, 1]
    # attribute -> (AIR neutralised - AIR) / (1 - AIR) of the attribute's worst judged group: the share of its gap
    # to parity the input carries (negative: the input narrows the gap); None when the group is not below parity
    disparity_share: dict[str, float | None]


@dataclass(frozen=True)
class ProxyAnalysis:
    """The analysed inputs, ranked by their share of the base's worst judged group's disparity, and that group."""

    proxies: list[Proxy]
    disparity_group: str | None  # "attribute:group"; None when no group is judged

    def strongest(self, count: int) -> list[str]:
        """Up to `count` inputs carrying a positive share of the worst disparity, strongest first."""
        if self.disparity_group is None:
            return []
        attribute = self.disparity_group.split(":", 1)[0]
        return [p.feature for p in self.proxies if (p.disparity_share.get(attribute) or 0.0) > 0][:count]


@dataclass(frozen=True)
class Alternative(JsonRecord):
    """A model or cut-off alternative's figures on the validation slice, and whether the policy may pick it."""

    name: str
    description: str
    kind: str  # MODEL or CUTOFF
    family: str
    features_removed: list[str]
    monotone: bool
    version: str  # the registry's content version of the model (a cut-off alternative's is the base's)
    approve_below: float
    validation_auc: float | None
    profit: float  # realised: loan_profit of the labels over the approved applications
    approval_rate: float
    air: dict[str, float | None]  # "attribute:group" -> AIR; None when the group is not judged
    worst_air: float | None
    worst_group: str | None
    flagged: list[str]  # beyond the four-fifths limit and significant after Holm's correction
    passed: bool
    pickable: bool


@dataclass(frozen=True)
class LdaSearch(JsonRecord):
    """A month's documented search: the proxies, the alternatives, the policy with its tolerances and the pick."""

    month: str
    base: str
    policy: str
    auc_tolerance: float
    profit_tolerance: float
    cutoffs: dict[str, float]
    economics: dict[str, float]
    disparity_group: str | None  # the base's worst judged group: the proxies are ranked by their share of it
    proxies: list[dict[str, Any]]
    alternatives: list[dict[str, Any]]
    picked: str | None
    picked_version: str | None  # the version deployed: a proposed alternative's refit when the settings refit
    reason: str
    fairness_limits: dict[str, Any]  # what judges a group and flags it


def slice_frame(validation: pd.DataFrame, protected: pd.DataFrame) -> pd.DataFrame:
    """The slice's IDs, labels and exposures with the protected columns joined on SK_ID_CURR, in the slice's order."""
    joined = validation[[ID, TARGET, EXPOSURE_COLUMN]].merge(
        protected[[ID, *PROTECTED_COLUMNS]], on=ID, how="left", validate="one_to_one", indicator=True
    )
    absent = joined.loc[joined["_merge"] == "left_only", ID]
    if len(absent):
        raise ValueError(
            f"protected attributes missing for {len(absent)} validation rows (SK_ID_CURR {absent.head(5).tolist()})"
        )
    return joined.drop(columns="_merge")


def assessed(month: str, frame: pd.DataFrame, probabilities: np.ndarray, approve_below: float) -> fairness.Fairness:
    """The fairness figures of approving below the cut-off (as scoring.decide approves; only approval moves an AIR)."""
    decisions = np.where(probabilities < approve_below, APPROVE, "not approved")
    scored = frame[PROTECTED_COLUMNS].assign(default_probability=probabilities, decision=decisions)
    return fairness.assess(month, scored, fairness.FairnessSettings())


def group_airs(result: fairness.Fairness) -> dict[str, float | None]:
    """Every non-reference group with members, keyed "attribute:group": its AIR, or None when it is not judged."""
    return {
        f"{attribute}:{group['group']}": group["adverse_impact_ratio"]
        if group["excluded_from_limits"] is None
        else None
        for attribute, figures in result.attributes.items()
        for group in figures["groups"]
        if group["group"] != figures["reference_group"] and group["count"] > 0
    }


def worst(airs: dict[str, float | None], attribute: str | None = None) -> tuple[str | None, float | None]:
    """The judged group with the lowest AIR (of one attribute, if named) and that AIR; (None, None) if none."""
    judged = {key: air for key, air in airs.items() if air is not None and attribute in (None, key.split(":", 1)[0])}
    if not judged:
        return None, None
    key = min(judged, key=lambda name: (judged[name], name))
    return key, judged[key]


def flagged_groups(result: fairness.Fairness) -> list[str]:
    return [f"{w['attribute']}:{w['group']}" for w in fairness.warning_figures(result)]


def rank_eta(values: pd.Series, groups: pd.Series) -> float:
    """The correlation ratio of the input's ranks by group: 0 when every group ranks alike, 1 when the group fixes
    the rank. Ranks make it indifferent to scale and outliers; missing values are left out."""
    known = values.notna().to_numpy() & groups.notna().to_numpy()
    ranks = pd.Series(values[known].rank().to_numpy(dtype="float64"))
    spread = ((ranks - ranks.mean()) ** 2).sum()
    if spread == 0:
        return 0.0
    means = ranks.groupby(groups[known].to_numpy()).transform("mean")
    return float(np.sqrt(((means - ranks.mean()) ** 2).sum() / spread))


def cramers_v(values: pd.Series, groups: pd.Series) -> float:
    """Cramér's V of a categorical input (missing as a level of its own) against the groups."""
    levels = values.astype("string").fillna("missing").to_numpy()
    table = pd.crosstab(levels, groups.to_numpy())
    table = table.loc[table.sum(axis=1) > 0, table.sum(axis=0) > 0]
    if min(table.shape) < 2:
        return 0.0
    return float(stats.contingency.association(table.to_numpy(), method="cramer"))


def categorical(column: pd.Series) -> bool:
    return isinstance(column.dtype, pd.CategoricalDtype)


def association(column: pd.Series, groups: dict[str, pd.Series]) -> dict[str, float]:
    measure = cramers_v if categorical(column) else rank_eta
    return {attribute: measure(column.reset_index(drop=True), values) for attribute, values in groups.items()}


def typical(column: pd.Series) -> Any:
    """The value an input is neutralised to: the slice's median of a number, the most frequent level of a category.
    A typical value, not an extreme, so no applicant is moved to an edge of the model; missing values take it too."""
    return column.mode().iloc[0] if categorical(column) else float(column.median())


def share_of_gap(air: float | None, neutralised: float | None) -> float | None:
    """How much of a group's gap to parity an input carries: (AIR without it - AIR) / (1 - AIR)."""
    if air is None or neutralised is None or air >= 1:
        return None
    return (neutralised - air) / (1 - air)


def ranked(proxies: list[Proxy], attribute: str | None) -> list[Proxy]:
    """Largest share of the attribute's worst disparity first (inputs without a share last), then by name."""

    def key(proxy: Proxy) -> tuple[bool, float, str]:
        share = proxy.disparity_share.get(attribute) if attribute else None
        return share is None, -(share or 0.0), proxy.feature

    return sorted(proxies, key=key)


def proxy_analysis(
    month: str,
    scorer: Scorer,
    calibrator: Calibrator,
    features: list[str],
    validation: pd.DataFrame,
    frame: pd.DataFrame,
    approve_below: float,
) -> ProxyAnalysis:
    """Each input's association with each protected attribute and its share of each attribute's worst disparity
    (the scorer's decisions at the cut-off with the input neutralised), ranked by the share of the worst judged
    group overall."""
    inputs = validation[scorer.feature_name()]

    def airs(rows: pd.DataFrame) -> dict[str, float | None]:
        return group_airs(assessed(month, frame, calibrator.apply(expit(scorer.log_odds(rows))), approve_below))

    base = airs(inputs)
    groups = {name: values.reset_index(drop=True) for name, values in fairness.sensitive_attributes(frame).items()}
    targets = {attribute: worst(base, attribute) for attribute in groups}
    proxies = []
    # the deployed card names its features; a scorecard's refit may keep a characteristic its validated fit dropped
    for feature in [name for name in features if name in inputs.columns]:
        column, value = inputs[feature], typical(inputs[feature])
        without = airs(inputs.assign(**{feature: pd.Series(value, index=column.index, dtype=column.dtype)}))
        proxies.append(
            Proxy(
                feature=feature,
                kind="categorical" if categorical(column) else "numeric",
                neutral_value=str(value),
                association=association(column, groups),
                disparity_share={
                    attribute: share_of_gap(air, without.get(key)) for attribute, (key, air) in targets.items()
                },
            )
        )
    overall, _ = worst(base)
    return ProxyAnalysis(ranked(proxies, overall.split(":", 1)[0] if overall else None), overall)


def model_variants(dropped: list[str], monotone: bool) -> list[Variant]:
    """The LightGBM without the strongest proxy, the two strongest ... (cumulative), then the other monotone setting."""
    without = [
        Variant(
            f"lightgbm_drop{k}",
            f"LightGBM with the month's tuned parameters without {', '.join(dropped[:k])} "
            f"(the {k} strongest prox{'y' if k == 1 else 'ies'} of the worst disparity)",
            tuple(dropped[:k]),
            monotone,
        )
        for k in range(1, len(dropped) + 1)
    ]
    other = "without" if monotone else "with"
    flipped = Variant(
        f"lightgbm_{'unconstrained' if monotone else 'monotone'}",
        f"LightGBM with the month's tuned parameters {other} the declared monotone constraints",
        (),
        not monotone,
    )
    return [*without, flipped]


def cutoff_variants(base: Variant, cutoffs: Cutoffs) -> list[tuple[Variant, float]]:
    """The base model at the other approve cut-offs, with each cut-off."""
    found = []
    for factor in CUTOFF_FACTORS:
        approve_below = cutoffs.review_cutoff * factor
        description = (
            f"the base model approving below {approve_below:.3f} instead of {cutoffs.review_cutoff:.3f}: documented "
            "for the credit committee, never proposed (cut-offs are the forecasts' configuration, not a model's)"
        )
        found.append(
            (Variant(f"{base.name}_cutoff_{approve_below:.3f}", description, (), base.monotone), approve_below)
        )
    return found


def evaluated(
    month: str,
    frame: pd.DataFrame,
    option: Option,
    approve_below: float,
    economics: EconomicsSettings,
    cutoff: Variant | None = None,
) -> Alternative:
    """An option's figures on the slice at a cut-off: the model alternative, or the `cutoff` alternative of it."""
    variant, card = cutoff or option.variant, option.model.card
    result = assessed(month, frame, option.probabilities, approve_below)
    airs = group_airs(result)
    worst_group, worst_air = worst(airs)
    approved = option.probabilities < approve_below
    realised = loan_profit(
        frame[TARGET].to_numpy(dtype="float64"), frame[EXPOSURE_COLUMN].to_numpy(dtype="float64"), economics
    )
    kind = CUTOFF if cutoff else MODEL
    return Alternative(
        name=variant.name,
        description=variant.description,
        kind=kind,
        family=card.family,
        features_removed=list(variant.features_removed),
        monotone=variant.monotone,
        version=content_version(card.family, option.model.files()),
        approve_below=float(approve_below),
        validation_auc=card.validation_metrics["roc_auc"],
        profit=float(realised[approved].sum()),
        approval_rate=float(approved.mean()),
        air=airs,
        worst_air=worst_air,
        worst_group=worst_group,
        flagged=flagged_groups(result),
        passed=option.passed,
        pickable=kind == MODEL,
    )


def within_tolerance(
    alternative: Alternative, base: Alternative, auc_tolerance: float, profit_tolerance: float
) -> bool:
    """Whether an alternative serves the business about as well as the base: AUC and profit within tolerance."""
    if alternative.name == base.name:
        return True
    if alternative.validation_auc is None or base.validation_auc is None:
        return False  # one class on the slice: the tolerance cannot be judged
    return (
        alternative.validation_auc >= base.validation_auc - auc_tolerance
        and alternative.profit >= base.profit - profit_tolerance * abs(base.profit)
    )


def fairer(alternative: Alternative, base: Alternative) -> bool:
    """Whether an alternative's worst AIR beats the base's by at least MIN_AIR_GAIN (the base is always eligible)."""
    if alternative.name == base.name or base.worst_air is None:
        return True
    return alternative.worst_air is not None and alternative.worst_air >= base.worst_air + MIN_AIR_GAIN


def eligible(alternatives: list[Alternative], base: str, auc_tolerance: float, profit_tolerance: float) -> list[str]:
    """The names the policy may propose: pickable model alternatives that pass every verdict, within tolerance and
    clearly fairer than the base."""
    reference = next(a for a in alternatives if a.name == base)
    return [
        a.name
        for a in alternatives
        if a.pickable
        and a.passed
        and within_tolerance(a, reference, auc_tolerance, profit_tolerance)
        and fairer(a, reference)
    ]


def air_text(air: float | None, group: str | None) -> str:
    return f"{air:.3f} ({group})" if air is not None else "not judged"


def pick(
    alternatives: list[Alternative], base: str, auc_tolerance: float, profit_tolerance: float
) -> tuple[str | None, str]:
    """The policy's proposal (None when nothing may be proposed) and why."""
    allowed = eligible(alternatives, base, auc_tolerance, profit_tolerance)
    if not allowed:
        return None, "nothing proposed: no model alternative passes every blocking verdict within tolerance of the base"
    named = {a.name: a for a in alternatives}

    def preference(name: str) -> tuple[float, float, bool]:
        a = named[name]
        return a.worst_air if a.worst_air is not None else -np.inf, a.validation_auc or -np.inf, name == base

    chosen, reference = named[max(allowed, key=preference)], named[base]
    others = [a for a in alternatives if a.pickable and a.name != base]
    outside = sum(a.name not in allowed for a in others)
    if chosen.name == base:
        kept = air_text(chosen.worst_air, chosen.worst_group)
        return base, (
            f"base kept: no alternative within tolerance improves the worst AIR {kept} ({len(others)} model "
            f"alternative(s), {outside} failing a blocking verdict or outside the tolerance)"
        )
    auc_change = (chosen.validation_auc or 0.0) - (reference.validation_auc or 0.0)
    profit_change = (chosen.profit - reference.profit) / abs(reference.profit) if reference.profit else 0.0
    base_state = "" if reference.passed else "; the base fails a blocking verdict"
    return chosen.name, (
        f"{chosen.name}: worst AIR {air_text(chosen.worst_air, chosen.worst_group)} against "
        f"{air_text(reference.worst_air, reference.worst_group)} for the base, at AUC {auc_change:+.4f} and profit "
        f"{profit_change:+.1%}{base_state}"
    )


def search(
    month: str,
    options: list[Option],
    base: str,
    analysis: ProxyAnalysis,
    frame: pd.DataFrame,
    settings: ModelSettings,
    cutoffs: Cutoffs,
    economics: EconomicsSettings,
) -> LdaSearch:
    """Every option at the cut-offs and the base at the other cut-offs, weighed by the policy."""
    approve_below = cutoffs.review_cutoff
    found = [evaluated(month, frame, option, approve_below, economics) for option in options]
    base_option = next(option for option in options if option.variant.name == base)
    found += [
        evaluated(month, frame, base_option, other, economics, variant)
        for variant, other in cutoff_variants(base_option.variant, cutoffs)
    ]
    auc_tolerance, profit_tolerance = settings.lda_auc_tolerance, settings.lda_profit_tolerance
    picked, reason = pick(found, base, auc_tolerance, profit_tolerance)
    return LdaSearch(
        month=month,
        base=base,
        policy=POLICY.format(auc=auc_tolerance, profit=profit_tolerance, gain=MIN_AIR_GAIN),
        auc_tolerance=auc_tolerance,
        profit_tolerance=profit_tolerance,
        cutoffs=asdict(cutoffs),
        economics=asdict(economics),
        disparity_group=analysis.disparity_group,
        proxies=[proxy.to_dict() for proxy in analysis.proxies],
        alternatives=[a.to_dict() for a in found],
        picked=picked,
        picked_version=next((a.version for a in found if a.name == picked), None),
        reason=reason,
        fairness_limits=asdict(fairness.FairnessSettings()),
    )


def alternatives_of(search: LdaSearch) -> list[Alternative]:
    return [Alternative.from_dict(row) for row in search.alternatives]


def picked_air(search: LdaSearch) -> dict[str, float]:
    """The proposed model's AIR of every judged group on the slice: what later months' AIRs are compared with."""
    chosen = [a for a in alternatives_of(search) if a.name == search.picked]
    return {key: air for key, air in chosen[0].air.items() if air is not None} if chosen else {}


def pareto(points: pd.DataFrame, measure: str) -> pd.Series:
    """Whether each point is on the frontier: no other point has as high a worst AIR and `measure`, one higher."""
    x, y = points["worst_air"].to_numpy(dtype="float64"), points[measure].to_numpy(dtype="float64")
    known = ~(np.isnan(x) | np.isnan(y))
    dominated = [
        bool(((x >= xi) & (y >= yi) & ((x > xi) | (y > yi)) & known).any()) for xi, yi in zip(x, y, strict=True)
    ]
    return pd.Series(known & ~np.array(dominated, dtype=bool), index=points.index)


FRONTIER_COLUMNS = [
    "name",
    "kind",
    "family",
    "features_removed",
    "monotone",
    "approve_below",
    "validation_auc",
    "profit",
    "approval_rate",
    "worst_air",
    "worst_group",
    "flagged",
    "passed",
    "pickable",
    "within_tolerance",
    "on_frontier",
    "picked",
]


def frontier_table(search: LdaSearch) -> pd.DataFrame:
    """One row per alternative: its figures, whether it was within tolerance, on the AUC frontier of the models that
    pass every blocking verdict, and picked."""
    found = alternatives_of(search)
    allowed = set(eligible(found, search.base, search.auc_tolerance, search.profit_tolerance))
    rows = pd.DataFrame([a.to_dict() for a in found]).astype({"worst_air": "float64", "validation_auc": "float64"})
    rows["features_removed"] = rows["features_removed"].map(", ".join)
    rows["flagged"] = rows["flagged"].map(", ".join)
    rows["within_tolerance"] = rows["name"].isin(allowed)
    admissible = rows[(rows["kind"] == MODEL) & rows["passed"]]
    rows["on_frontier"] = pareto(admissible, "validation_auc").reindex(rows.index, fill_value=False)
    rows["picked"] = rows["name"] == search.picked
    return rows[FRONTIER_COLUMNS]


def _frontier_panel(axes: Any, rows: pd.DataFrame, measure: str, floor: float, label: str, air_limit: float) -> None:
    """Worst-group AIR against one measure: every alternative labelled, the model frontier, the tolerance, the pick."""
    shown = rows.dropna(subset=["worst_air", measure])
    top = max(shown[measure].max(), floor) if len(shown) else floor
    margin = 0.05 * (abs(top - min(shown[measure].min(), floor)) or abs(top) or 1.0) if len(shown) else 1.0
    axes.axhspan(floor, top + margin, color="tab:green", alpha=0.08, label="within tolerance of the base")
    axes.axvline(air_limit, color="tab:red", linestyle="--", linewidth=1, label=f"four-fifths limit ({air_limit:g})")
    models = shown[shown["kind"] == MODEL]
    admissible = models[models["passed"]]
    frontier = admissible[pareto(admissible, measure)].sort_values("worst_air")
    axes.plot(
        frontier["worst_air"], frontier[measure], color="tab:blue", linewidth=1, label="frontier (passing models)"
    )
    kinds = {
        "model alternatives": (models["passed"], "o", "tab:blue"),
        "failing a blocking verdict": (~models["passed"], "X", "tab:red"),
        "cut-off alternatives (not proposable)": (None, "s", "tab:grey"),
    }
    for name, (rows_of, marker, colour) in kinds.items():
        points = shown[shown["kind"] == CUTOFF] if rows_of is None else models[rows_of]
        axes.scatter(points["worst_air"], points[measure], marker=marker, color=colour, label=name)
    for row in shown.itertuples():
        axes.annotate(row.name, (row.worst_air, getattr(row, measure)), fontsize=7, xytext=(4, 3),
                      textcoords="offset points")  # fmt: skip
    picked = shown[shown["picked"]]
    axes.scatter(picked["worst_air"], picked[measure], s=220, facecolors="none", edgecolors="tab:orange",
                 linewidths=2, label="proposed")  # fmt: skip
    axes.set(xlabel="worst-group adverse impact ratio", ylabel=label)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncols=3, fontsize=7)  # below: never over a point


def frontier_png(search: LdaSearch) -> bytes:
    """Worst-group AIR against validation AUC and against profit, the frontier, the tolerance band and the pick."""
    rows = frontier_table(search)
    base = rows[rows["name"] == search.base].iloc[0]
    floors = {
        "validation_auc": base["validation_auc"] - search.auc_tolerance,
        "profit": base["profit"] - search.profit_tolerance * abs(base["profit"]),
    }
    labels = {"validation_auc": "validation AUC", "profit": "realised profit on the validation slice"}
    figure, panels = plots.new_figure(12, 5, panels=2)
    for axes, (measure, floor) in zip(panels, floors.items(), strict=True):
        _frontier_panel(axes, rows, measure, floor, labels[measure], search.fairness_limits["air_limit"])
    figure.suptitle(f"Less discriminatory alternatives ({search.month} model, base {search.base})")
    return plots.png_bytes(figure)


def air_table(search: LdaSearch) -> pd.DataFrame:
    """Every group's AIR (rows "attribute:group") under every alternative (columns): not judged shows as missing."""
    return pd.DataFrame({a.name: pd.Series(a.air, dtype="float64") for a in alternatives_of(search)}).rename_axis(
        "group"
    )


def proxy_table(search: LdaSearch) -> pd.DataFrame:
    """One row per analysed input: its association with each attribute and its share of each worst disparity."""
    return pd.DataFrame(
        [
            {
                "feature": proxy["feature"],
                **{f"association {name}": value for name, value in proxy["association"].items()},
                **{f"share {name}": value for name, value in proxy["disparity_share"].items()},
            }
            for proxy in search.proxies
        ]
    )


# What the promotion log keeps of a search (the whole record is the model's lda.json of the month): enough to read
# the decision and to compare later months' disparities with the documented ones.
SUMMARY_COLUMNS = ["name", "kind", "validation_auc", "profit", "approval_rate", "worst_air", "worst_group", "picked"]


def log_summary(search: LdaSearch) -> dict[str, Any]:
    """The search as the promotion log records it: policy, pick and reason, the pick's AIRs and the frontier."""
    frontier = frontier_table(search)[SUMMARY_COLUMNS]
    return {
        "policy": search.policy,
        "base": search.base,
        "picked": search.picked,
        "picked_version": search.picked_version,
        "reason": search.reason,
        "picked_air": picked_air(search),
        "frontier": json.loads(frontier.to_json(orient="records")),
    }
