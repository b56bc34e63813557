"""The model registry in the store: every trained model kept by content, and an append-only promotion log.

A model's version is its family and the SHA-256 of the files that define its predictions, so a re-run that
trains the same model finds it already stored and a different model is a new version; nothing is overwritten.
Each version's folder holds a manifest of its files' hashes, written last and checked on every load: a version
exists once its manifest does. The promotion log is one JSON entry per decision carrying its own hash and the
hash of the entry before it, so an edited, inserted or removed entry is found (all but the removal of the newest
ones, which only a copy kept elsewhere can show); on object storage each entry is created by a conditional write.
"""

import hashlib
import json
from dataclasses import replace
from typing import Any

from credit_assets.core.blobs import Blobs, MissingArtifact
from credit_assets.core.chained_log import ChainBroken, ChainedLog, lines_at
from credit_assets.core.modeling import change_control
from credit_assets.core.modeling.calibration import Calibrator
from credit_assets.core.modeling.card import CARD_FILE, ModelCard
from credit_assets.core.modeling.models import CALIBRATION_FILE, Model, scorer_from_files

MANIFEST_FILE = "manifest.json"


class RegistryError(ValueError):
    """A registry entry or log line that no longer matches its hash: nothing is read from it or written over it."""


def content_version(family: str, files: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return f"{family}-{digest.hexdigest()[:16]}"


class ModelRegistry:
    """Versions under registry/models/<version>/, decisions in registry/promotions.jsonl."""

    def __init__(self, blobs: Blobs, prefix: str = "registry") -> None:
        self.blobs, self.prefix = blobs, prefix
        self.log = ChainedLog(lines_at(blobs, f"{prefix}/promotions.jsonl"))

    def _folder(self, version: str) -> str:
        return f"{self.prefix}/models/{version}"

    def location(self, version: str) -> str:
        return self.blobs.location(self._folder(version))

    def log_state(self) -> object:
        """Changes whenever a decision is appended to the promotion log."""
        return self.log.lines.state()

    def register(self, model: Model) -> tuple[Model, bool]:
        """Store a model under its content version; returns it with its card versioned, and whether it is new."""
        files = model.files()
        version = content_version(model.card.family, files)
        if self.blobs.exists(f"{self._folder(version)}/{MANIFEST_FILE}"):
            return self.load(version), False
        card = replace(model.card, version=version)
        stored = {name: text.encode("utf-8") for name, text in {**files, CARD_FILE: card.to_json()}.items()}
        manifest = {name: hashlib.sha256(data).hexdigest() for name, data in stored.items()}
        stored[MANIFEST_FILE] = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8")
        self.blobs.put_folder(self._folder(version), stored, commit=MANIFEST_FILE)
        return replace(model, card=card), True

    def verify(self, version: str) -> dict[str, str]:
        """The version's files, after checking each against the manifest; a clear error naming any mismatch."""
        folder = self._folder(version)
        try:
            manifest = json.loads(self.blobs.get(f"{folder}/{MANIFEST_FILE}"))
        except MissingArtifact:
            raise MissingArtifact(f"No model version {version} in the registry ({self.location(version)}).") from None
        files = {}
        for name, expected in sorted(manifest.items()):
            try:
                data = self.blobs.get(f"{folder}/{name}")
            except MissingArtifact:
                data = None
            if data is None or hashlib.sha256(data).hexdigest() != expected:
                raise RegistryError(
                    f"Registry entry {version}: {self.blobs.location(f'{folder}/{name}')} no longer matches its "
                    f"recorded SHA-256 {expected[:12]}; the model is not used. Restore the file from a backup (the "
                    "registry never rewrites it)."
                )
            files[name] = data.decode("utf-8")
        return files

    def load(self, version: str) -> Model:
        files = self.verify(version)
        card = ModelCard.from_json(files[CARD_FILE])
        return Model(scorer_from_files(card.family, files), Calibrator.from_json(files[CALIBRATION_FILE]), card)

    def card(self, version: str) -> ModelCard | None:
        """A version's card as stored, unchecked (for display), or None when there is no such version."""
        try:
            return ModelCard.from_json(self.blobs.get(f"{self._folder(version)}/{CARD_FILE}"))
        except MissingArtifact:
            return None

    def cards(self) -> list[ModelCard]:
        """Every stored version's card, oldest month first."""
        prefix = f"{self.prefix}/models/"
        keys = [key for key in self.blobs.keys(prefix) if key.endswith(f"/{MANIFEST_FILE}")]
        cards = [ModelCard.from_json(self.blobs.get(key.replace(MANIFEST_FILE, CARD_FILE))) for key in keys]
        return sorted(cards, key=lambda card: (card.month, card.family, card.version))

    def append(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Append a decision to the log (never rewriting it): numbered and chained to the line before."""
        try:
            return self.log.append(entry)
        except ChainBroken as error:
            raise RegistryError(str(error)) from error

    def promotions(self) -> list[dict[str, Any]]:
        """Every decision in the log, oldest first, after checking each line's hash and its link to the one before."""
        try:
            return self.log.entries()
        except ChainBroken as error:
            raise RegistryError(str(error)) from error

    def decision(self, month: str) -> change_control.MonthRecord | None:
        """The newest decision for a month, or None when none was made."""
        return change_control.month_decision(self.promotions(), month)

    def champion(self, month: str) -> Model | None:
        """The model that scores a month by its newest decision, or None when none does."""
        record = self.decision(month)
        return self.load(record.champion) if record and record.champion else None

    def state(self) -> change_control.ChampionState:
        """The champion in force, how it was approved, a candidate awaiting approval and the open triggers."""
        return change_control.fold(self.promotions())

    def decide(self, version: str, decision: str, user: str, role: str, comment: str) -> dict[str, Any]:
        """Record a model_risk user's approval or rejection of the candidate awaiting it; the check that it may be
        decided and the append happen under the log's lock, so two decisions can never both take it."""
        try:
            return self.log.append_checked(
                lambda entries: change_control.decision_entry(entries, version, decision, user, role, comment)
            )
        except ChainBroken as error:
            raise RegistryError(str(error)) from error
