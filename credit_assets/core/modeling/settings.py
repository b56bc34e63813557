"""How a month's models are trained, tuned, calibrated, compared and promoted: plain settings the Dagster config
converts into."""

from dataclasses import dataclass
from typing import Literal

Retune = Literal["auto", "always", "never"]
FAMILIES = ("lightgbm", "scorecard")  # the champion candidates trained every month on the same window
PROMOTION_RULES = (*FAMILIES, "best_validation_auc")


@dataclass(frozen=True)
class ModelSettings:
    """Training, tuning, validation slice, challenger and promotion settings of a month's models."""

    seed: int = 42
    num_threads: int = 2
    max_boost_rounds: int = 2000
    early_stopping_rounds: int = 50  # rounds without a better validation AUC before training stops
    retune: Retune = "auto"
    retune_every_months: int = 12
    optuna_trials: int = 20
    select_top_features: int = 0  # 0 keeps every feature; N keeps the N with the highest gain importance
    monotone: bool = True  # enforce the contract's declared risk directions (LightGBM monotone_constraints)
    auc_floor: float = 0.60
    max_auc_drop: float = 0.02  # versus the previous month's champion on the same validation slice
    min_validation_defaults: int = 500  # the out-of-time validation slice grows back in time until it holds these
    max_validation_share: float = 0.5  # ... but never takes more than this share of the labelled rows
    # after the slice chose parameters, iterations and calibration, refit on every labelled row and deploy that
    refit_on_all_labels: bool = True
    scorecard_characteristics: int = 20  # the scorecard bins the LightGBM's top features by gain
    promotion_rule: str = "lightgbm"  # a family that must pass, or best_validation_auc among those that pass

    def __post_init__(self) -> None:
        if self.promotion_rule not in PROMOTION_RULES:
            raise ValueError(
                f"promotion_rule {self.promotion_rule!r} names no model: choose one of {', '.join(PROMOTION_RULES)}"
            )
        if self.min_validation_defaults < 1 or not 0 < self.max_validation_share < 1:
            raise ValueError("need min_validation_defaults >= 1 and 0 < max_validation_share < 1")
        if self.scorecard_characteristics < 1:
            raise ValueError("scorecard_characteristics must be at least 1")
