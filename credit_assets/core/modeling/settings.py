"""How a month's models are trained, tuned, calibrated, compared and promoted: plain settings the Dagster config
converts into."""

from dataclasses import dataclass
from typing import Literal

Retune = Literal["auto", "always", "never"]
# Who lets a developed candidate become champion: a `model_risk` user in the portal (the default; the first
# champion included), that or an automatic approval within explicit limits, or nobody (development and tests only:
# every such champion is recorded as unapproved and the model's `champion_approved` check warns every month).
Approval = Literal["model_risk", "within_limits", "none"]
APPROVALS = ("model_risk", "within_limits", "none")
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
    # change control: the champion stays until a trigger fires (a scheduled review or a monitoring trigger)
    # a champion developed this many months before the scored month is reviewed; 0 develops at every run (the
    # behaviour before change control: for development and tests)
    review_every_months: int = 3
    approval: Approval = "model_risk"
    # the search for a less discriminatory alternative: the least discriminatory model whose validation AUC is at
    # most lda_auc_tolerance below the base candidate's and whose profit on the validation slice is at most
    # lda_profit_tolerance (a share) below it is proposed; lda_proxies: the strongest proxies dropped one by one
    lda_auc_tolerance: float = 0.005
    lda_profit_tolerance: float = 0.02
    lda_proxies: int = 3

    def __post_init__(self) -> None:
        if self.promotion_rule not in PROMOTION_RULES:
            raise ValueError(
                f"promotion_rule {self.promotion_rule!r} names no model: choose one of {', '.join(PROMOTION_RULES)}"
            )
        if self.min_validation_defaults < 1 or not 0 < self.max_validation_share < 1:
            raise ValueError("need min_validation_defaults >= 1 and 0 < max_validation_share < 1")
        if self.scorecard_characteristics < 1:
            raise ValueError("scorecard_characteristics must be at least 1")
        if self.approval not in APPROVALS:
            raise ValueError(f"approval {self.approval!r} is not one of {', '.join(APPROVALS)}")
        if self.review_every_months < 0 or self.lda_proxies < 0:
            raise ValueError("need review_every_months >= 0 and lda_proxies >= 0")
        if self.lda_auc_tolerance < 0 or not 0 <= self.lda_profit_tolerance < 1:
            raise ValueError("need lda_auc_tolerance >= 0 and 0 <= lda_profit_tolerance < 1")
