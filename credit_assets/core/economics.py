"""Decision economics: expected loss and profit of approving a month's applications, and the cut-offs they justify.

An approved loan that repays earns `margin` x exposure over its life; one that defaults loses LGD x exposure;
each approved application costs `cost_per_application` to book and service (declined ones cost the same either
way, so they do not move the cut-off). With PD the champion's calibrated probability and exposure AMT_CREDIT:
expected loss = PD x LGD x EAD and expected profit = (1 - PD) x margin x EAD - PD x LGD x EAD - cost.
A policy approves every application with PD below its cut-off; referred applications count as approved when
the configured decline cut-off is judged (the review band is an underwriting step, not a refusal).
Labels exist only for approved loans in a real portfolio, so realised figures carry no reject inference.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from credit_assets.core import plots
from credit_assets.core.contract import schema
from credit_assets.core.records import JsonRecord
from credit_assets.core.scoring import Cutoffs
from credit_assets.core.verdict import Severity, Verdict

EXPOSURE_COLUMN = "AMT_CREDIT"
ID, TARGET = schema.ID_COLUMN, schema.TARGET_COLUMN
CURVE_POINTS = 200  # the stored curves are thinned to this many points; recommendations use every cut-off


@dataclass(frozen=True)
class EconomicsSettings:
    """Loss given default, lifetime margin and cost per approved application; the policy targets to report."""

    lgd: float = 0.45  # Basel foundation-IRB LGD of senior unsecured exposures
    margin: float = 0.10  # net lifetime interest margin of a loan that repays, as a share of AMT_CREDIT
    cost_per_application: float = 500.0  # booking and servicing an approved application, in AMT_CREDIT's currency
    target_approval_rate: float = 0.80
    max_profit_shortfall: float = 0.05  # warn when the configured cut-offs give up more of the best profit

    def __post_init__(self) -> None:
        problems = [
            f"lgd must lie in [0, 1], got {self.lgd}" * (not 0 <= self.lgd <= 1),
            f"margin must be >= 0, got {self.margin}" * (self.margin < 0),
            f"cost_per_application must be >= 0, got {self.cost_per_application}" * (self.cost_per_application < 0),
            f"target_approval_rate must lie in (0, 1], got {self.target_approval_rate}"
            * (not 0 < self.target_approval_rate <= 1),
            f"max_profit_shortfall must lie in [0, 1], got {self.max_profit_shortfall}"
            * (not 0 <= self.max_profit_shortfall <= 1),
        ]
        if any(problems):
            raise ValueError("; ".join(problem for problem in problems if problem))


def require_exposures(ids: pd.Series, exposure: pd.Series) -> None:
    """Refuse negative or missing exposures, naming example applications."""
    bad = exposure.isna() | (exposure < 0)
    if bad.any():
        examples = ids[bad].head(5).tolist()
        raise ValueError(
            f"{EXPOSURE_COLUMN} must be a non-negative exposure: {int(bad.sum())} rows are negative or missing "
            f"(SK_ID_CURR {examples})"
        )


def loan_profit(default: np.ndarray, exposure: np.ndarray, settings: EconomicsSettings) -> np.ndarray:
    """Profit of approving each loan given its default (a probability: expected; a label: realised)."""
    return (
        (1 - default) * settings.margin * exposure - default * settings.lgd * exposure - settings.cost_per_application
    )


def policy_curve(
    probabilities: np.ndarray, exposure: np.ndarray, settings: EconomicsSettings, labels: np.ndarray | None
) -> pd.DataFrame:
    """Every distinct cut-off (approve PD below it) with its approval rate, bad rates and profits."""
    order = np.argsort(probabilities, kind="stable")
    pd_sorted, exposure_sorted = probabilities[order], exposure[order]
    cutoffs = np.append(np.unique(pd_sorted), 1.0 + 1e-12)  # the last approves everything
    approved = np.searchsorted(pd_sorted, cutoffs, side="left")  # how many have PD < cut-off

    def cumulative(values: np.ndarray) -> np.ndarray:
        return np.concatenate([[0.0], np.cumsum(values)])[approved]

    count = np.maximum(approved, 1)
    curve = pd.DataFrame(
        {
            "cutoff": np.minimum(cutoffs, 1.0),
            "approved": approved,
            "approval_rate": approved / len(probabilities),
            "expected_bad_rate": cumulative(pd_sorted) / count,
            "expected_loss": cumulative(pd_sorted * settings.lgd * exposure_sorted),
            "expected_profit": cumulative(loan_profit(pd_sorted, exposure_sorted, settings)),
        }
    )
    if labels is not None:
        labels_sorted = labels[order].astype("float64")
        curve["observed_bad_rate"] = cumulative(labels_sorted) / count
        curve["realised_profit"] = cumulative(loan_profit(labels_sorted, exposure_sorted, settings))
    return curve


def at_cutoff(curve: pd.DataFrame, cutoff: float) -> pd.Series:
    """The policy that approves PD below `cutoff`: the first curve row at or above it."""
    index = int(np.searchsorted(curve["cutoff"].to_numpy(), cutoff, side="left"))
    row = curve.iloc[min(index, len(curve) - 1)].copy()
    row["cutoff"] = cutoff
    return row


@dataclass(frozen=True)
class Economics(JsonRecord):
    """A month's policies side by side and the verdict inputs."""

    month: str
    settings: dict[str, float]
    applications: int
    labelled: bool
    policies: list[dict[str, Any]]  # configured decline, configured review, most profitable, target approval rate
    best_expected_profit: float
    configured_expected_profit: float
    shortfall: float  # share of the best expected profit the configured cut-offs give up
    curve: list[dict[str, float]]  # thinned


def assess(
    month: str,
    forecasts: pd.DataFrame,
    exposures: pd.DataFrame,
    cutoffs: Cutoffs,
    settings: EconomicsSettings,
) -> Economics:
    """The month's expected (and, once labelled, realised) economics at the configured and recommended cut-offs."""
    frame = forecasts[[ID, "default_probability"]].merge(exposures, on=ID, validate="one_to_one")
    require_exposures(frame[ID], frame[EXPOSURE_COLUMN])
    labels = frame[TARGET] if TARGET in frame else pd.Series(dtype="float64")
    labelled = schema.fully_labelled(labels)
    curve = policy_curve(
        frame["default_probability"].to_numpy(dtype="float64"),
        frame[EXPOSURE_COLUMN].to_numpy(dtype="float64"),
        settings,
        labels.to_numpy() if labelled else None,
    )
    best = curve.iloc[int(curve["expected_profit"].to_numpy().argmax())]
    target = curve.iloc[int(np.argmax(curve["approval_rate"].to_numpy() >= settings.target_approval_rate - 1e-12))]
    policies = {
        "configured (decline cut-off)": at_cutoff(curve, cutoffs.decline_cutoff),
        "configured (auto-approve only)": at_cutoff(curve, cutoffs.review_cutoff),
        "most profitable": best,
        f"approval rate {settings.target_approval_rate:.0%}": target,
    }
    configured = float(policies["configured (decline cut-off)"]["expected_profit"])
    best_profit = float(best["expected_profit"])
    step = max(1, len(curve) // CURVE_POINTS)
    return Economics(
        month=month,
        settings=dict(vars(settings)),
        applications=len(frame),
        labelled=labelled,
        policies=[{"policy": name, **{k: float(v) for k, v in row.items()}} for name, row in policies.items()],
        best_expected_profit=best_profit,
        configured_expected_profit=configured,
        shortfall=(best_profit - configured) / abs(best_profit) if best_profit else 0.0,
        curve=curve.iloc[::step].to_dict(orient="records"),
    )


def cutoffs_near_best(result: Economics, settings: EconomicsSettings) -> Verdict:
    """Warn when the configured cut-offs give up more than the allowed share of the best expected profit."""
    figures = {
        "best_expected_profit": round(result.best_expected_profit, 2),
        "configured_expected_profit": round(result.configured_expected_profit, 2),
        "shortfall": round(result.shortfall, 4),
        "max_profit_shortfall": settings.max_profit_shortfall,
        "recommended_cutoff": next(p["cutoff"] for p in result.policies if p["policy"] == "most profitable"),
    }
    text = f"configured cut-offs give up {result.shortfall:.1%} of the best expected profit"
    if result.shortfall > settings.max_profit_shortfall:
        return Verdict(False, f"{text} (more than {settings.max_profit_shortfall:.0%})", Severity.WARN, figures)
    return Verdict(True, f"{text} (at most {settings.max_profit_shortfall:.0%})", Severity.WARN, figures)


def profit_png(result: Economics, cutoffs: Cutoffs) -> bytes:
    """Expected (and realised) profit against the cut-off, the configured and recommended cut-offs marked."""
    curve = pd.DataFrame(result.curve)
    figure, axes = plots.new_figure(7, 4)
    axes.plot(curve["cutoff"], curve["expected_profit"], label="expected profit")
    if "realised_profit" in curve:
        axes.plot(curve["cutoff"], curve["realised_profit"], linestyle="--", label="realised profit")
    best = next(p["cutoff"] for p in result.policies if p["policy"] == "most profitable")
    for value, name, style in (
        (cutoffs.review_cutoff, "review cut-off", ":"),
        (cutoffs.decline_cutoff, "decline cut-off", "-."),
        (best, "most profitable", "-"),
    ):
        axes.axvline(value, color="grey", linestyle=style, label=f"{name} {value:.3f}")
    axes.set(xlabel="cut-off (approve PD below)", ylabel="profit", title=f"Profit against the cut-off, {result.month}")
    axes.legend(loc="lower right")
    return plots.png_bytes(figure)


def approval_png(result: Economics) -> bytes:
    """Bad rate of the approved against the approval rate, the policies marked."""
    curve = pd.DataFrame(result.curve)
    figure, axes = plots.new_figure(6, 4)
    axes.plot(curve["approval_rate"], curve["expected_bad_rate"], label="expected bad rate")
    if "observed_bad_rate" in curve:
        axes.plot(curve["approval_rate"], curve["observed_bad_rate"], linestyle="--", label="observed bad rate")
    for policy in result.policies:
        axes.scatter(policy["approval_rate"], policy["expected_bad_rate"], zorder=3, label=policy["policy"])
    axes.set(
        xlabel="approval rate", ylabel="bad rate of the approved", title=f"Approval against bad rate, {result.month}"
    )
    axes.legend(loc="upper left", fontsize="small")
    return plots.png_bytes(figure)
