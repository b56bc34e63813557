"""Run config for the assets, derived from the core's settings dataclasses so that each setting is stated once."""

import dataclasses
import json
import os
from typing import Any, TypeVar

import dagster as dg
import pydantic

from credit_assets.defs.partitions import Refusal

Settings = TypeVar("Settings")


def config_class(
    settings: type[Any], name: str | None = None, defaults: dict[str, Any] | None = None
) -> type[dg.Config]:
    """A `dg.Config` with the fields, types and defaults of a core settings dataclass (ModelSettings: ModelConfig);
    `defaults` replaces some defaults (a deployment's own, read once when the definitions load)."""
    chosen = defaults or {}
    fields = {field.name: (field.type, chosen.get(field.name, field.default)) for field in dataclasses.fields(settings)}
    name = name or settings.__name__.removesuffix("Settings") + "Config"
    return pydantic.create_model(name, __base__=dg.Config, __doc__=settings.__doc__, __module__=__name__, **fields)


def deployment_defaults(settings: type[Any], variable: str) -> dict[str, Any]:
    """A deployment's own defaults for a settings dataclass: a JSON object of some of its fields in environment
    variable `variable` (none when unset). A value that is not such an object, names no field or fails the settings'
    checks stops the definitions from loading, so a typo never leaves a default silently in force."""
    text = os.environ.get(variable, "").strip()
    if not text:
        return {}
    try:
        chosen = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{variable} is not JSON ({error}): give an object of {settings.__name__} fields") from None
    if not isinstance(chosen, dict):
        raise ValueError(f"{variable} must be a JSON object of {settings.__name__} fields, not {text[:80]!r}")
    names = [field.name for field in dataclasses.fields(settings)]
    unknown = sorted(set(chosen) - set(names))
    if unknown:
        raise ValueError(
            f"{variable} names no {settings.__name__} field: {', '.join(unknown)} (fields: {', '.join(names)})"
        )
    try:
        settings(**chosen)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{variable}: {error}") from None
    return chosen


def to_settings(config: dg.Config, settings: type[Settings]) -> Settings:
    """The core settings object a run's config stands for; a config its own checks refuse fails the step."""
    try:
        return settings(**config.model_dump())
    except ValueError as error:
        raise Refusal(f"invalid run config: {error}") from error
