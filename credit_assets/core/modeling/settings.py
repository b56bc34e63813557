"""How a month's model is trained, tuned and gated: plain settings the Dagster config converts into."""

from dataclasses import dataclass
from typing import Literal

Retune = Literal["auto", "always", "never"]


@dataclass(frozen=True)
class ModelSettings:
    """Training, tuning and gate settings of a month's model."""

    seed: int = 42
    num_threads: int = 2
    max_boost_rounds: int = 2000
    early_stopping_rounds: int = 100
    retune: Retune = "auto"
    retune_every_months: int = 12
    optuna_trials: int = 20
    select_top_features: int = 0  # 0 keeps every feature; N keeps the N with the highest gain importance
    monotone: bool = True  # enforce the contract's declared risk directions (LightGBM monotone_constraints)
    auc_floor: float = 0.60
    max_auc_drop: float = 0.02  # versus the previous month's model on the same validation slice
