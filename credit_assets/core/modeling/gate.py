"""The champion gate: a month's model ships only when its validation AUC is good enough."""

from dataclasses import dataclass

import numpy as np

from credit_assets.core.modeling.settings import ModelSettings
from credit_assets.core.verdict import Verdict


@dataclass(frozen=True)
class PreviousModel:
    """The previous month's model scored on the rows of this month's validation slice it did not train on."""

    version: str
    auc: float | None
    rows: np.ndarray  # which validation rows it was scored on: its own training rows would flatter it


def gate(
    settings: ModelSettings, auc: float | None, previous: PreviousModel | None, compared_auc: float | None
) -> Verdict:
    """Pass when validation AUC reaches the floor and, on the rows the previous month's model is scored on, this
    model's AUC (`compared_auc`) is not clearly below that model's."""
    figures = {
        "validation_auc": auc,
        "floor": settings.auc_floor,
        "previous_model": previous.version if previous else "none",
        "previous_model_auc": previous.auc if previous else None,
        "compared_rows": int(previous.rows.sum()) if previous else 0,
        "auc_on_compared_rows": compared_auc,
    }
    if auc is None:
        return Verdict(False, "validation slice holds one class only: AUC undefined", figures=figures)
    if auc < settings.auc_floor:
        return Verdict(False, f"validation AUC {auc:.4f} is below the floor {settings.auc_floor:.2f}", figures=figures)
    comparable = previous is not None and previous.auc is not None and compared_auc is not None
    if comparable and compared_auc < previous.auc - settings.max_auc_drop:
        return Verdict(
            False,
            f"validation AUC {compared_auc:.4f} is more than {settings.max_auc_drop} below the previous model "
            f"{previous.version} ({previous.auc:.4f}) on the {figures['compared_rows']} validation rows it did not "
            "train on",
            figures=figures,
        )
    floor = f"floor {settings.auc_floor:.2f}"
    if comparable:
        return Verdict(
            True,
            f"validation AUC {auc:.4f} passes ({floor}; {compared_auc:.4f} against the previous model's "
            f"{previous.auc:.4f} on the validation rows it did not train on)",
            figures=figures,
        )
    return Verdict(True, f"validation AUC {auc:.4f} passes the {floor}", figures=figures)
