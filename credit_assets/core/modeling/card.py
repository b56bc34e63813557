"""A stored model: LightGBM's own text format plus a JSON card that says what it is and how it was made."""

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import lightgbm as lgb

from credit_assets.core.store import MissingArtifact, write_text

MODEL_FILE = "model.txt"
CARD_FILE = "card.json"


@dataclass(frozen=True)
class ModelCard:
    """What a month's model is: its window, parameters and their provenance, features, metrics and importance."""

    month: str
    window: dict[str, Any]
    params: dict[str, Any]
    params_provenance: dict[str, Any]
    seed: int
    num_threads: int
    best_iteration: int
    features: list[str]
    validation_metrics: dict[str, float | None]
    importance: list[dict[str, Any]]
    version: str = field(default="")

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


def save_model(folder: Path, booster: lgb.Booster, card: ModelCard) -> ModelCard:
    """Store the booster in LightGBM's text format and its card; returns the card with its version."""
    text = booster.model_to_string(num_iteration=booster.best_iteration or None)
    versioned = replace(card, version=f"{card.month}-{hashlib.sha256(text.encode()).hexdigest()[:12]}")
    write_text(folder / MODEL_FILE, text)
    write_text(folder / CARD_FILE, versioned.to_json())
    return versioned


def load_model(folder: Path) -> tuple[lgb.Booster, ModelCard]:
    """Load a stored model and its card; a clear error when either is missing or unreadable."""
    model_path, card_path = folder / MODEL_FILE, folder / CARD_FILE
    if not model_path.is_file() or not card_path.is_file():
        raise MissingArtifact(f"No stored model in {folder}: materialise the model for that month first.")
    try:
        booster = lgb.Booster(model_file=str(model_path))
    except lgb.basic.LightGBMError as error:
        raise ValueError(f"Model file {model_path} cannot be loaded by LightGBM: {error}") from error
    return booster, ModelCard.from_json(card_path.read_text())


def find_model(folder: Path) -> tuple[lgb.Booster, ModelCard] | None:
    """The model stored in `folder`, or None when none was stored there."""
    return load_model(folder) if (folder / MODEL_FILE).is_file() else None
