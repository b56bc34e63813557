"""Typed results that are stored as JSON and read back by the checks that judge them."""

import json
from dataclasses import asdict
from typing import Any, Self


class JsonRecord:
    """Mixin for a dataclass kept as JSON: `to_dict` for writing, `from_dict` for reading it back."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Self:
        return cls.from_dict(json.loads(text))


class EvolvingRecord(JsonRecord):
    """A JsonRecord whose older versions lack some fields: those default to None and are written only when set, so
    a record reads back and writes out the same bytes whichever version wrote it."""

    def to_dict(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}  # type: ignore[call-overload]
