"""The champion in force, loaded from the registry (every file hash-checked) and swapped in when the log changes.

A watcher thread looks at the promotion log's size and modification time every `poll_seconds`; when they change it
folds the log, loads a new champion completely and then replaces one reference. A micro-batch takes that reference
once, so each request is answered by exactly one version, and a promotion needs no restart.
"""

import logging
import threading
from dataclasses import dataclass

from credit_assets.core.modeling.models import Model
from credit_assets.core.modeling.registry import ModelRegistry

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class InForce:
    """The champion a micro-batch decides with, or None with the reason there is none."""

    model: Model | None
    why_none: str = ""


class ChampionWatcher:
    """Keeps `current` equal to the registry's champion in force."""

    def __init__(self, registry: ModelRegistry, poll_seconds: float = 1.0) -> None:
        self.registry, self.poll_seconds = registry, poll_seconds
        self.current = InForce(None, "the service has not read the registry yet")
        self._seen: object = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="champion-watcher", daemon=True)

    def refresh(self) -> InForce:
        """Re-read the champion when the promotion log changed; a damaged entry keeps the last good champion."""
        state = self.registry.log_state()
        if state == self._seen:
            return self.current
        try:
            version = self.registry.state().champion
            if version is None:
                self.current = InForce(None, "no champion in force: a candidate awaits approval or none was trained")
            elif self.current.model is None or self.current.model.version != version:
                self.current = InForce(self.registry.load(version))
                LOGGER.info("champion in force: %s", version)
            self._seen = state
        except (OSError, ValueError) as error:  # RegistryError, a missing file: say so, keep deciding as before
            LOGGER.error("the registry could not be read, the champion stays %s: %s", self.version, error)
        return self.current

    @property
    def version(self) -> str | None:
        return self.current.model.version if self.current.model else None

    def start(self) -> None:
        self.refresh()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            self.refresh()
