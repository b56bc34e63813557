"""The champion gate: a month's model ships only when its validation AUC is good enough."""

from dataclasses import dataclass

from credit_assets.core.modeling.settings import ModelSettings


@dataclass(frozen=True)
class PreviousModel:
    """The previous month's model scored on this month's validation slice."""

    version: str
    auc: float | None


@dataclass(frozen=True)
class GateVerdict:
    passed: bool
    reason: str


def gate(settings: ModelSettings, auc: float | None, previous: PreviousModel | None) -> GateVerdict:
    """Pass when validation AUC reaches the floor and is not clearly below the previous month's model."""
    if auc is None:
        return GateVerdict(False, "validation slice holds one class only: AUC undefined")
    if auc < settings.auc_floor:
        return GateVerdict(False, f"validation AUC {auc:.4f} is below the floor {settings.auc_floor:.2f}")
    if previous and previous.auc is not None and auc < previous.auc - settings.max_auc_drop:
        return GateVerdict(
            False,
            f"validation AUC {auc:.4f} is more than {settings.max_auc_drop} below the previous model "
            f"{previous.version} ({previous.auc:.4f})",
        )
    floor = f"floor {settings.auc_floor:.2f}"
    if previous and previous.auc is not None:
        return GateVerdict(True, f"validation AUC {auc:.4f} passes ({floor}; previous model {previous.auc:.4f})")
    return GateVerdict(True, f"validation AUC {auc:.4f} passes the {floor}")
