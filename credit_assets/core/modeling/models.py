"""A stored model's parts, whatever its family: the scorer, its calibration and its card.

A scorer turns a feature frame into log-odds of default and into per-feature contributions to them, in log-odds,
with a last bias column, each row summing to the row's log-odds (LightGBM: exact SHAP values against the average
applicant; scorecard: points lost against the best attribute, against the best applicant). The calibrator maps
the scorer's probability to the probability the forecasts carry.
"""

from dataclasses import dataclass
from typing import Protocol

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.special import expit

from credit_assets.core.modeling import scorecard
from credit_assets.core.modeling.calibration import Calibrator
from credit_assets.core.modeling.card import ModelCard

LIGHTGBM_FILE = "model.txt"
CALIBRATION_FILE = "calibration.json"


class Scorer(Protocol):
    family: str

    def feature_name(self) -> list[str]: ...

    def log_odds(self, frame: pd.DataFrame) -> np.ndarray: ...

    def contributions(self, frame: pd.DataFrame) -> np.ndarray: ...

    def files(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class LightGBMScorer:
    booster: lgb.Booster
    family: str = "lightgbm"

    def feature_name(self) -> list[str]:
        return self.booster.feature_name()

    def _predict(self, frame: pd.DataFrame, **kind: bool) -> np.ndarray:
        return self.booster.predict(
            frame[self.feature_name()], num_iteration=self.booster.best_iteration or None, **kind
        )

    def log_odds(self, frame: pd.DataFrame) -> np.ndarray:
        return self._predict(frame, raw_score=True)

    def contributions(self, frame: pd.DataFrame) -> np.ndarray:
        return self._predict(frame, pred_contrib=True)

    def files(self) -> dict[str, str]:
        return {LIGHTGBM_FILE: self.booster.model_to_string(num_iteration=self.booster.best_iteration or None)}


@dataclass(frozen=True)
class ScorecardScorer:
    table: scorecard.PointsTable
    family: str = scorecard.FAMILY

    def feature_name(self) -> list[str]:
        return self.table.feature_name()

    def log_odds(self, frame: pd.DataFrame) -> np.ndarray:
        return self.table.log_odds(frame)

    def contributions(self, frame: pd.DataFrame) -> np.ndarray:
        return self.table.contributions(frame)

    def files(self) -> dict[str, str]:
        return {scorecard.FILE: self.table.to_json()}


@dataclass(frozen=True)
class Model:
    """A scorer with its calibration and card: what scores a month."""

    scorer: Scorer
    calibrator: Calibrator
    card: ModelCard

    @property
    def version(self) -> str:
        return self.card.version

    def raw_probability(self, frame: pd.DataFrame) -> np.ndarray:
        return expit(self.scorer.log_odds(frame))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of default."""
        return self.calibrator.apply(self.raw_probability(frame))

    def files(self) -> dict[str, str]:
        """The files that define the model's predictions (its version hashes these)."""
        return {**self.scorer.files(), CALIBRATION_FILE: self.calibrator.to_json()}


def scorer_from_files(family: str, files: dict[str, str]) -> Scorer:
    """The scorer a family stores in its files."""
    if family == scorecard.FAMILY:
        return ScorecardScorer(scorecard.PointsTable.from_json(files[scorecard.FILE]))
    return LightGBMScorer(lgb.Booster(model_str=files[LIGHTGBM_FILE]))
