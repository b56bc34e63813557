"""Run config for the assets, derived from the core's settings dataclasses so that each setting is stated once."""

import dataclasses
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


def to_settings(config: dg.Config, settings: type[Settings]) -> Settings:
    """The core settings object a run's config stands for; a config its own checks refuse fails the step."""
    try:
        return settings(**config.model_dump())
    except ValueError as error:
        raise Refusal(f"invalid run config: {error}") from error
