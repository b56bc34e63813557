"""Charts of a month's model: ROC curve and reliability on the validation slice, feature importance."""

import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from credit_assets.core import plots
from credit_assets.core.modeling.calibration import band_table, reliability_png
from credit_assets.core.modeling.card import ModelCard


def roc_png(month: str, labels: pd.Series, probabilities: np.ndarray, auc: float) -> bytes:
    fpr, tpr, _ = roc_curve(labels, probabilities)
    figure, axes = plots.new_figure(5, 5)
    axes.plot(fpr, tpr, label=f"model (AUC {auc:.3f})")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title=f"ROC, validation slice ({month} model)")
    axes.legend(loc="lower right")
    return plots.png_bytes(figure)


def importance_png(month: str, table: pd.DataFrame, top: int = 20) -> bytes:
    head = table.head(top).iloc[::-1]
    figure, axes = plots.new_figure(7, 6)
    axes.barh(head["feature"], head["gain"])
    axes.set(xlabel="total gain", title=f"Top {top} features by gain ({month} model)")
    return plots.png_bytes(figure)


def model_charts(card: ModelCard, labels: pd.Series, raw: np.ndarray, calibrated: np.ndarray) -> dict[str, bytes]:
    """The champion's charts on its validation slice, by file name: ROC, importance and reliability."""
    month, truth = card.month, labels.to_numpy()
    return {
        "roc.png": roc_png(month, labels, raw, card.validation_metrics["roc_auc"]),
        "importance.png": importance_png(month, pd.DataFrame(card.importance)),
        "reliability.png": reliability_png(
            f"Reliability, validation slice ({month} model)",
            {
                "raw": band_table(truth, raw),
                f"calibrated ({card.calibration.method})": band_table(truth, calibrated),
            },
        ),
    }
