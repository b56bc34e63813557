"""Charts of a month's model: ROC curve on the validation slice and feature importance."""

import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from credit_assets.core import plots


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
