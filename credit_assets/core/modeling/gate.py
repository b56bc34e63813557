"""The champion gate: a month's model ships only when its validation AUC is good enough."""

from dataclasses import dataclass

from credit_assets.core.modeling.settings import ModelSettings
from credit_assets.core.verdict import Verdict


@dataclass(frozen=True)
class PreviousModel:
    """The previous month's model scored on this month's validation slice."""

    version: str
    auc: float | None


def gate(settings: ModelSettings, auc: float | None, previous: PreviousModel | None) -> Verdict:
    """Pass when validation AUC reaches the floor and is not clearly below the previous month's model."""
    figures = {
        "validation_auc": auc,
        "floor": settings.auc_floor,
        "previous_model": previous.version if previous else "none",
        "previous_model_auc": previous.auc if previous else None,
    }
    if auc is None:
        return Verdict(False, "validation slice holds one class only: AUC undefined", figures=figures)
    if auc < settings.auc_floor:
        return Verdict(False, f"validation AUC {auc:.4f} is below the floor {settings.auc_floor:.2f}", figures=figures)
    if previous and previous.auc is not None and auc < previous.auc - settings.max_auc_drop:
        return Verdict(
            False,
            f"validation AUC {auc:.4f} is more than {settings.max_auc_drop} below the previous model "
            f"{previous.version} ({previous.auc:.4f})",
            figures=figures,
        )
    floor = f"floor {settings.auc_floor:.2f}"
    if previous and previous.auc is not None:
        return Verdict(
            True, f"validation AUC {auc:.4f} passes ({floor}; previous model {previous.auc:.4f})", figures=figures
        )
    return Verdict(True, f"validation AUC {auc:.4f} passes the {floor}", figures=figures)
