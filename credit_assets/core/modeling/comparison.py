"""Champion and challengers in shadow: every candidate of a month scores the same applications with the same
cut-offs; only the champion's scores reach the forecasts and notices.

Per candidate: validation AUC and calibration from its card; on the month, the approval and decline rates and
the expected bad rate of the approved at the cut-offs; once labelled, the forecast AUC, calibration error and
the observed bad rate of the approved.
"""

from typing import Any

import pandas as pd

from credit_assets.core import plots
from credit_assets.core.contract import schema
from credit_assets.core.modeling.calibration import expected_calibration_error
from credit_assets.core.modeling.models import Model
from credit_assets.core.modeling.training import metrics
from credit_assets.core.scoring import Cutoffs

REPORT_FILE = "comparison.json"
COLUMNS = [
    "month",
    "family",
    "role",
    "version",
    "validation_auc",
    "validation_ece",
    "approval_rate",
    "decline_rate",
    "expected_bad_rate_approved",
    "forecast_auc",
    "forecast_ece",
    "observed_bad_rate_approved",
]


def shadow_row(month: str, model: Model, role: str, frame: pd.DataFrame, cutoffs: Cutoffs) -> dict[str, Any]:
    """One candidate scored on the month at the cut-offs."""
    probabilities = model.predict(frame)
    approved = probabilities < cutoffs.review_cutoff
    labels = frame[schema.TARGET_COLUMN]
    labelled = schema.fully_labelled(labels)
    row = {
        "month": month,
        "family": model.card.family,
        "role": role,
        "version": model.version,
        "validation_auc": model.card.validation_metrics["roc_auc"],
        "validation_ece": model.card.calibration.ece_after,
        "approval_rate": float(approved.mean()),
        "decline_rate": float((probabilities >= cutoffs.decline_cutoff).mean()),
        "expected_bad_rate_approved": float(probabilities[approved].mean()) if approved.any() else None,
        "forecast_auc": None,
        "forecast_ece": None,
        "observed_bad_rate_approved": None,
    }
    if labelled:
        y = labels.to_numpy(dtype="float64")
        row |= {
            "forecast_auc": metrics(labels, probabilities)["roc_auc"],
            "forecast_ece": expected_calibration_error(y, probabilities),
            "observed_bad_rate_approved": float(y[approved].mean()) if approved.any() else None,
        }
    return row


def compare_month(
    month: str, champion: str, models: list[Model], frame: pd.DataFrame, cutoffs: Cutoffs
) -> list[dict[str, Any]]:
    """Every candidate of the month's decision scored in shadow, champion first."""
    ordered = sorted(models, key=lambda model: (model.version != champion, model.card.family))
    return [
        shadow_row(month, model, "champion" if model.version == champion else "challenger", frame, cutoffs)
        for model in ordered
    ]


def auc_png(history: pd.DataFrame) -> bytes:
    """Validation AUC (and forecast AUC once labelled) per family over the months."""
    figure, axes = plots.new_figure(7, 4)
    for family, rows in history.groupby("family"):
        axes.plot(rows["month"], rows["validation_auc"], marker="o", label=f"{family}: validation")
        labelled = rows.dropna(subset=["forecast_auc"])
        if len(labelled):
            axes.plot(labelled["month"], labelled["forecast_auc"], marker="s", linestyle="--", label=f"{family}: month")
    axes.set(xlabel="month", ylabel="ROC AUC", title="Champion and challenger")
    axes.legend(loc="lower left")
    axes.tick_params(axis="x", rotation=45)
    return plots.png_bytes(figure)


def history_table(reports: list[list[dict[str, Any]]]) -> pd.DataFrame:
    """The monthly comparison reports as one table, oldest month first."""
    rows = [row for report in reports for row in report]
    return pd.DataFrame(rows, columns=COLUMNS).sort_values(["month", "role"], kind="stable", ignore_index=True)
