"""A model's card: what it is, the data it was trained and validated on, how it was made and how it scored."""

import json
from dataclasses import dataclass, field, fields
from typing import Any, Self

from credit_assets.core.modeling.calibration import CalibrationReport
from credit_assets.core.records import EvolvingRecord

CARD_FILE = "card.json"


@dataclass(frozen=True)
class TrainingWindow(EvolvingRecord):
    """The labelled rows a model was developed on: its training months, its out-of-time validation slice (with
    content hashes of both) and the rows the deployed model trained on."""

    train_months: list[str]
    validation_months: list[str]
    train_rows: int
    validation_rows: int
    validation_defaults: int
    validation_first_id: int  # the split month's rows from this SK_ID_CURR on validate
    min_validation_defaults: int
    max_validation_share: float
    validation_sufficient: bool
    train_sha256: str
    validation_sha256: str
    # cards from before the refit on every labelled row record none of these: their model is the training fit
    refit_on_all_labels: bool | None = None
    deployed_train_months: list[str] | None = None
    deployed_train_rows: int | None = None
    deployed_train_defaults: int | None = None

    @property
    def refit(self) -> bool:
        return bool(self.refit_on_all_labels)

    @property
    def deployed_months(self) -> list[str]:
        """The months the deployed model trained on."""
        return self.deployed_train_months or self.train_months


@dataclass(frozen=True)
class ModelCard:
    """What a trained model is: family, window, parameters and their provenance, features, metrics, calibration."""

    month: str
    family: str
    window: TrainingWindow
    params: dict[str, Any]
    params_provenance: dict[str, Any]
    seed: int
    num_threads: int
    best_iteration: int
    features: list[str]
    # of the raw scores of the fit on the training rows alone, on the validation slice it never trained on: what
    # early stopping, tuning, calibration and the gate saw; window.refit says if the deployed model is that fit's
    # refit on every labelled row instead
    validation_metrics: dict[str, float | None]
    importance: list[dict[str, Any]]
    calibration: CalibrationReport | None = None  # None until the candidate is judged on the validation slice
    version: str = field(default="")  # set by the registry: the family and a hash of the model's files

    def top_features(self, count: int) -> list[str]:
        """The model's `count` features with the highest (positive) gain."""
        return [row["feature"] for row in self.importance if row["gain"] > 0 and row["feature"] in self.features][
            :count
        ]

    def to_dict(self) -> dict[str, Any]:
        plain = {each.name: getattr(self, each.name) for each in fields(self)}
        calibration = self.calibration.to_dict() if self.calibration else {}
        return {**plain, "window": self.window.to_dict(), "calibration": calibration}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Self:
        data = json.loads(text)
        window, calibration = data.pop("window"), data.pop("calibration", None)
        return cls(
            **data,
            window=TrainingWindow.from_dict(window),
            calibration=CalibrationReport.from_dict(calibration) if calibration else None,
        )
