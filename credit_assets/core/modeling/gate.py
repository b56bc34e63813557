"""The champion gate: a month's model ships only when its validation AUC is good enough."""

from dataclasses import dataclass

import numpy as np
from scipy import stats

from credit_assets.core.modeling.settings import ModelSettings
from credit_assets.core.verdict import Verdict

# The drop alone is no evidence on a small slice: with 10 defaults an AUC moves by 0.05 between two equally good
# models. The gate refuses only a drop beyond max_auc_drop that a paired DeLong test also finds significant, at 1 %
# one-sided: the gate judges every month, and on small files the comparison favours the previous champion (refit on
# every row before the compared month) over the new model's validated fit (trained on the rows before the slice).
GATE_SIGNIFICANCE = 0.01


@dataclass(frozen=True)
class PreviousModel:
    """The previous month's model scored on the rows of this month's validation slice it did not train on."""

    version: str
    auc: float | None
    rows: np.ndarray  # which validation rows it was scored on: its own training rows would flatter it
    probabilities: np.ndarray  # its raw probabilities on those rows


@dataclass(frozen=True)
class AucComparison:
    """Two models' AUCs on the same rows and the one-sided p-value that the new one is lower (paired DeLong)."""

    new_auc: float
    previous_auc: float
    p_value: float


def _placements(positives: np.ndarray, negatives: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's structural components: per positive the share of negatives below it, per negative the share of
    positives above it (ties count half)."""
    both = stats.rankdata(np.concatenate([positives, negatives]))
    above = (both[: len(positives)] - stats.rankdata(positives)) / len(negatives)
    below = 1 - (both[len(positives) :] - stats.rankdata(negatives)) / len(positives)
    return above, below


def compare_aucs(labels: np.ndarray, new: np.ndarray, previous: np.ndarray) -> AucComparison | None:
    """Paired DeLong test of two scores on the same labelled rows (DeLong, DeLong and Clarke-Pearson 1988);
    None when the rows hold one class only."""
    positive = np.asarray(labels) == 1
    if positive.all() or not positive.any():
        return None
    parts = [_placements(score[positive], score[~positive]) for score in (new, previous)]
    v10, v01 = np.array([part[0] for part in parts]), np.array([part[1] for part in parts])
    covariance = np.cov(v10) / v10.shape[1] + np.cov(v01) / v01.shape[1]
    aucs = v10.mean(axis=1)
    variance = covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1]
    z = (aucs[0] - aucs[1]) / np.sqrt(variance) if variance > 0 else 0.0
    return AucComparison(float(aucs[0]), float(aucs[1]), float(stats.norm.cdf(z)))


def gate(
    settings: ModelSettings, auc: float | None, previous: PreviousModel | None, compared: AucComparison | None
) -> Verdict:
    """Pass when validation AUC reaches the floor and, on the rows the previous month's model is scored on, this
    model's AUC is not significantly more than max_auc_drop below that model's."""
    figures = {
        "validation_auc": auc,
        "floor": settings.auc_floor,
        "previous_model": previous.version if previous else "none",
        "previous_model_auc": previous.auc if previous else None,
        "compared_rows": int(previous.rows.sum()) if previous else 0,
        "auc_on_compared_rows": compared.new_auc if compared else None,
        "p_value_lower": compared.p_value if compared else None,
    }
    if auc is None:
        return Verdict(False, "validation slice holds one class only: AUC undefined", figures=figures)
    if auc < settings.auc_floor:
        return Verdict(False, f"validation AUC {auc:.4f} is below the floor {settings.auc_floor:.2f}", figures=figures)
    floor = f"floor {settings.auc_floor:.2f}"
    if previous is None or compared is None:
        return Verdict(True, f"validation AUC {auc:.4f} passes the {floor}", figures=figures)
    against = (
        f"{compared.new_auc:.4f} against the previous model {previous.version}'s {compared.previous_auc:.4f} on the "
        f"{figures['compared_rows']} validation rows it did not train on, one-sided DeLong p = {compared.p_value:.2g}"
    )
    dropped = compared.new_auc < compared.previous_auc - settings.max_auc_drop
    if dropped and compared.p_value < GATE_SIGNIFICANCE:
        return Verdict(
            False,
            f"validation AUC is more than {settings.max_auc_drop} below the previous model, significantly: {against}",
            figures=figures,
        )
    return Verdict(True, f"validation AUC {auc:.4f} passes ({floor}; {against})", figures=figures)
