"""A model's card: what it is, the data it was trained and validated on, how it was made and how it scored."""

import json
from dataclasses import asdict, dataclass, field
from typing import Any

CARD_FILE = "card.json"


@dataclass(frozen=True)
class ModelCard:
    """What a trained model is: family, window, parameters and their provenance, features, metrics, calibration."""

    month: str
    family: str
    window: dict[str, Any]
    params: dict[str, Any]
    params_provenance: dict[str, Any]
    seed: int
    num_threads: int
    best_iteration: int
    features: list[str]
    # of the raw scores of the fit on the training rows alone, on the validation slice it never trained on: what
    # early stopping, tuning, calibration and the gate saw; window["refit_on_all_labels"] says if the deployed
    # model is that fit's refit on every labelled row instead
    validation_metrics: dict[str, float | None]
    importance: list[dict[str, Any]]
    calibration: dict[str, Any] = field(default_factory=dict)
    version: str = field(default="")  # set by the registry: the family and a hash of the model's files

    def top_features(self, count: int) -> list[str]:
        """The model's `count` features with the highest (positive) gain."""
        return [row["feature"] for row in self.importance if row["gain"] > 0 and row["feature"] in self.features][
            :count
        ]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ModelCard":
        return cls(**json.loads(text))
