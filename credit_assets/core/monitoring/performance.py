"""How a month's forecasts did once its labels are known, and the rolling backtest over labelled months.

Labels arrive in the month's own landing file: a month first landed without TARGET is scored; when the
file is landed again with TARGET its performance is measured. Every month is scored by a model trained
only on the months before it, so the backtest is honest.
"""

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from credit_assets.core import plots
from credit_assets.core.contract import schema
from credit_assets.core.modeling.calibration import band_table, calibration_verdict
from credit_assets.core.modeling.card import ModelCard
from credit_assets.core.modeling.training import metrics
from credit_assets.core.records import JsonRecord
from credit_assets.core.verdict import Severity, Verdict

CALIBRATION_SIGNIFICANCE = 0.01  # per month, over all score bands
CALIBRATION_MIN_DEFAULTS = 30  # fewer defaults make a per-band binomial test meaningless
AUC_WARNING_GAP = 0.05  # forecast AUC this far below the model's validation AUC raises a warning
# Calibration in the large: the month's defaults against the sum of its probabilities (normal approximation,
# variance sum p(1 - p)), for all applicants and for the approved ones; 0.05 is shared by the two tests.
IN_THE_LARGE_SIGNIFICANCE = 0.05
IN_THE_LARGE_ALPHA = IN_THE_LARGE_SIGNIFICANCE / 2  # each test's two-sided level (Bonferroni)
IN_THE_LARGE_POWER = 0.8  # the power at which the smallest detectable excess of defaults is stated
IN_THE_LARGE_MIN_EXPECTED = 10  # fewer expected defaults make the normal approximation of their count too rough
APPROVED = "approve"
BACKTEST_COLUMNS = ["month", "rows", "roc_auc", "validation_roc_auc", "brier", "positive_rate"]


@dataclass(frozen=True)
class Performance(JsonRecord):
    """A month's forecast performance; `labelled` False (and the rest empty) until its labels arrive."""

    month: str
    labelled: bool
    rows: int = 0
    positive_rate: float | None = None
    mean_predicted: float | None = None
    roc_auc: float | None = None
    pr_auc: float | None = None
    brier: float | None = None
    log_loss: float | None = None
    validation_roc_auc: float | None = None
    model_version: str | None = None
    calibration: list[dict[str, Any]] = field(default_factory=list)
    in_the_large: dict[str, Any] = field(default_factory=dict)  # empty in results stored before it was measured
    approved_in_the_large: dict[str, Any] = field(default_factory=dict)


def measure(month: str, validated: pd.DataFrame, forecasts: pd.DataFrame, card: ModelCard) -> Performance:
    """Performance of the month's forecasts against the labels of its validated applications."""
    if schema.TARGET_COLUMN not in validated.columns:
        return Performance(month=month, labelled=False)
    scored = forecasts.merge(validated[[schema.ID_COLUMN, schema.TARGET_COLUMN]], on=schema.ID_COLUMN)
    labels, probabilities = scored[schema.TARGET_COLUMN], scored["default_probability"]
    return Performance(
        month=month,
        labelled=True,
        rows=len(scored),
        positive_rate=float(labels.mean()),
        mean_predicted=float(probabilities.mean()),
        **metrics(labels, probabilities.to_numpy()),
        validation_roc_auc=card.validation_metrics["roc_auc"],
        model_version=card.version,
        calibration=band_table(labels.to_numpy(), probabilities.to_numpy()).to_dict(orient="records"),
        in_the_large=in_the_large(labels.to_numpy(), probabilities.to_numpy()),
        approved_in_the_large=in_the_large(*_approved(scored)),
    )


def _approved(scored: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities of the applications the decision approved: the lender's losses come from these."""
    approved = scored[scored["decision"] == APPROVED]
    return approved[schema.TARGET_COLUMN].to_numpy(), approved["default_probability"].to_numpy()


def in_the_large(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, Any]:
    """Observed against expected defaults (z for the mean), and the smallest excess the test detects."""
    p = np.asarray(probabilities, dtype="float64")
    expected, variance, observed = float(p.sum()), float(np.sum(p * (1 - p))), int(np.sum(labels))
    found: dict[str, Any] = {
        "rows": len(p),
        "expected_defaults": expected,
        "observed_defaults": observed,
        "expected_rate": expected / len(p) if len(p) else None,
        "observed_rate": observed / len(p) if len(p) else None,
        "tested": expected >= IN_THE_LARGE_MIN_EXPECTED,
    }
    if not found["tested"]:
        return {**found, "passed": True}
    z = (observed - expected) / np.sqrt(variance)
    p_value = float(2 * stats.norm.sf(abs(z)))
    return {
        **found,
        "z": float(z),
        "p_value": p_value,
        "passed": p_value >= IN_THE_LARGE_ALPHA,
        "detectable_excess": detectable_excess(p),
    }


def detectable_excess(p: np.ndarray) -> float | None:
    """Smallest relative excess of defaults (probabilities times 1 + excess) found with IN_THE_LARGE_POWER.

    Solves excess x expected = z_alpha x sd under the model + z_power x sd under the shifted probabilities;
    the far tail's share of the power is negligible. None when even certain default would not be found.
    """
    expected, null_sd = p.sum(), np.sqrt(np.sum(p * (1 - p)))
    z_alpha, z_power = stats.norm.isf(IN_THE_LARGE_ALPHA / 2), stats.norm.ppf(IN_THE_LARGE_POWER)

    def margin(excess: float) -> float:
        shifted = np.minimum(p * (1 + excess), 1.0)
        return shifted.sum() - expected - z_alpha * null_sd - z_power * np.sqrt(np.sum(shifted * (1 - shifted)))

    top = 1 / max(float(p[p > 0].min()), 1e-9)  # every probability reaches 1 at this excess
    return float(optimize.brentq(margin, 0.0, top)) if margin(top) > 0 else None


def backtest(results: list[Performance]) -> pd.DataFrame:
    """The labelled months among `results` with their forecast and validation AUCs, oldest first."""
    rows = [
        {key: getattr(r, key) for key in BACKTEST_COLUMNS} for r in sorted(results, key=lambda r: r.month) if r.labelled
    ]
    return pd.DataFrame(rows, columns=BACKTEST_COLUMNS)


def auc_holds_up(result: Performance) -> Verdict:
    """Warn when the forecast AUC falls more than AUC_WARNING_GAP below the model's validation AUC."""
    if not result.labelled or result.roc_auc is None:
        return Verdict(True, "not evaluated: no labels (or one class only) yet", Severity.WARN, {"evaluated": False})
    gap = result.validation_roc_auc - result.roc_auc
    return Verdict(
        passed=bool(gap <= AUC_WARNING_GAP),
        description=f"forecast AUC {result.roc_auc:.4f} vs validation AUC {result.validation_roc_auc:.4f}",
        severity=Severity.WARN,
        figures={"evaluated": True, "gap": float(np.round(gap, 4))},
    )


def calibrated(result: Performance) -> Verdict:
    """Warn when a labelled month's forecasts are clearly miscalibrated in some score band or in the large."""
    if not result.labelled:
        return Verdict(True, "not evaluated: no labels yet", Severity.WARN, {"evaluated": False})
    bands = calibration_verdict(pd.DataFrame(result.calibration), CALIBRATION_SIGNIFICANCE, CALIBRATION_MIN_DEFAULTS)
    parts = {"all applicants": result.in_the_large, "approved applicants": result.approved_in_the_large}
    large_failed = [name for name, found in parts.items() if not found.get("passed", True)]
    heading = f"calibration in the large fails for {' and '.join(large_failed)}" if large_failed else ""
    told = "; ".join(f"{name}: {in_the_large_text(found)}" for name, found in parts.items())
    return Verdict(
        passed=bands.passed and not large_failed,
        description=". ".join(
            text for text in (heading, f"score bands: {bands.description}", f"in the large, {told}") if text
        ),
        severity=bands.severity,
        figures={
            **bands.figures,
            "in_the_large": result.in_the_large,
            "approved_in_the_large": parts["approved applicants"],
        },
    )


def in_the_large_text(found: dict[str, Any]) -> str:
    """One calibration-in-the-large result in words, with what its test could have detected."""
    if not found:
        return "not tested (measured before this test existed)"
    seen = f"{found['observed_defaults']} defaults where {found['expected_defaults']:.0f} were expected"
    if found["rows"]:
        seen += f" ({found['observed_rate']:.1%} against {found['expected_rate']:.1%})"
    if not found["tested"]:
        return f"{seen}, not tested (fewer than {IN_THE_LARGE_MIN_EXPECTED} expected)"
    excess = found["detectable_excess"]
    power = (
        f"it detects {excess:.0%} more defaults than expected with {IN_THE_LARGE_POWER:.0%} power"
        if excess is not None
        else "no excess of defaults is detectable"
    )
    return f"{seen}, z {found['z']:.1f}, p {found['p_value']:.2g} (two-sided at {IN_THE_LARGE_ALPHA}; {power})"


def backtest_png(table: pd.DataFrame) -> bytes:
    figure, axes = plots.new_figure(7, 4)
    axes.plot(table["month"], table["roc_auc"], marker="o", label="forecast month (labels)")
    axes.plot(table["month"], table["validation_roc_auc"], marker="s", linestyle="--", label="model validation slice")
    axes.set(xlabel="month", ylabel="ROC AUC", title="Rolling backtest")
    axes.legend(loc="lower left")
    axes.tick_params(axis="x", rotation=45)
    return plots.png_bytes(figure)
