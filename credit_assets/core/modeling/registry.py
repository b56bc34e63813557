"""The model registry on the storage root: every trained model kept by content, and an append-only promotion log.

A model's version is its family and the SHA-256 of the files that define its predictions, so a re-run that
trains the same model finds it already stored and a different model is a new version; nothing is overwritten.
Each version's folder holds a manifest of its files' hashes, checked on every load. The promotion log is one
JSON line per decision carrying its own hash and the hash of the line before it, so an edited, inserted or
removed line is found (all but the removal of the newest lines, which only a copy kept elsewhere can show).
"""

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from credit_assets.core.chained_log import ChainBroken, ChainedLog
from credit_assets.core.modeling import change_control
from credit_assets.core.modeling.calibration import Calibrator
from credit_assets.core.modeling.card import CARD_FILE, ModelCard
from credit_assets.core.modeling.models import CALIBRATION_FILE, Model, scorer_from_files
from credit_assets.core.store import MissingArtifact, sha256_of

MANIFEST_FILE = "manifest.json"


class RegistryError(ValueError):
    """A registry entry or log line that no longer matches its hash: nothing is read from it or written over it."""


def content_version(family: str, files: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return f"{family}-{digest.hexdigest()[:16]}"


class ModelRegistry:
    """Versions under root/models/<version>/, decisions in root/promotions.jsonl."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.models_dir = root / "models"
        self.log_path = root / "promotions.jsonl"
        self.log = ChainedLog(self.log_path)

    def folder(self, version: str) -> Path:
        return self.models_dir / version

    def register(self, model: Model) -> tuple[Model, bool]:
        """Store a model under its content version; returns it with its card versioned, and whether it is new."""
        files = model.files()
        version = content_version(model.card.family, files)
        if self.folder(version).exists():
            return self.load(version), False
        card = replace(model.card, version=version)
        self._write_folder(version, {**files, CARD_FILE: card.to_json()})
        return replace(model, card=card), True

    def _write_folder(self, version: str, files: dict[str, str]) -> None:
        """Write the files and their manifest in a temp folder, then rename it into place in one step."""
        self.models_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.models_dir, prefix=f".{version}."))
        try:
            for name, text in files.items():
                (staging / name).write_text(text, encoding="utf-8")
            manifest = {name: sha256_of(staging / name) for name in files}
            (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True))
            staging.chmod(0o755)
            os.rename(staging, self.folder(version))
        except OSError:
            if self.folder(version).exists():  # a concurrent run stored the same version first
                return
            raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def verify(self, version: str) -> dict[str, str]:
        """The version's files, after checking each against the manifest; a clear error naming any mismatch."""
        folder = self.folder(version)
        if not (folder / MANIFEST_FILE).is_file():
            raise MissingArtifact(f"No model version {version} in the registry ({folder}).")
        manifest = json.loads((folder / MANIFEST_FILE).read_text())
        for name, expected in sorted(manifest.items()):
            path = folder / name
            if not path.is_file() or sha256_of(path) != expected:
                raise RegistryError(
                    f"Registry entry {version}: {path} no longer matches its recorded SHA-256 {expected[:12]}; "
                    "the model is not used. Restore the file from a backup (the registry never rewrites it)."
                )
        return {name: (folder / name).read_text() for name in manifest}

    def load(self, version: str) -> Model:
        files = self.verify(version)
        card = ModelCard.from_json(files[CARD_FILE])
        return Model(scorer_from_files(card.family, files), Calibrator.from_json(files[CALIBRATION_FILE]), card)

    def cards(self) -> list[ModelCard]:
        """Every stored version's card, oldest month first."""
        folders = sorted(self.models_dir.glob("*/" + CARD_FILE)) if self.models_dir.exists() else []
        cards = [ModelCard.from_json(path.read_text()) for path in folders if not path.parent.name.startswith(".")]
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

    def decision(self, month: str) -> dict[str, Any] | None:
        """The newest decision for a month, or None when none was made."""
        return change_control.month_decision(self.promotions(), month)

    def champion(self, month: str) -> Model | None:
        """The model that scores a month by its newest decision, or None when none does."""
        entry = self.decision(month)
        return self.load(entry["champion"]) if entry and entry.get("champion") else None

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
