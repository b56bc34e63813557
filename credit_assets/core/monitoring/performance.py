"""How a month's forecasts did once its labels are known, and the rolling backtest over labelled months.

Labels arrive in the month's own landing file: a month first landed without TARGET is scored; when the
file is landed again with TARGET its performance is measured. Every month is scored by a model trained
only on the months before it, so the backtest is honest.
"""

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

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
    )


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
    """Warn when a labelled month's forecasts are clearly miscalibrated in some score band."""
    if not result.labelled:
        return Verdict(True, "not evaluated: no labels yet", Severity.WARN, {"evaluated": False})
    return calibration_verdict(pd.DataFrame(result.calibration), CALIBRATION_SIGNIFICANCE, CALIBRATION_MIN_DEFAULTS)


def backtest_png(table: pd.DataFrame) -> bytes:
    figure, axes = plots.new_figure(7, 4)
    axes.plot(table["month"], table["roc_auc"], marker="o", label="forecast month (labels)")
    axes.plot(table["month"], table["validation_roc_auc"], marker="s", linestyle="--", label="model validation slice")
    axes.set(xlabel="month", ylabel="ROC AUC", title="Rolling backtest")
    axes.legend(loc="lower left")
    axes.tick_params(axis="x", rotation=45)
    return plots.png_bytes(figure)
