"""The storage resource: every artifact addressed by the asset that owns it, read only along declared lineage."""

from typing import Any

import dagster as dg
import pandas as pd

from credit_assets.core.modeling.change_control import MonthRecord
from credit_assets.core.modeling.models import Model
from credit_assets.core.modeling.registry import ModelRegistry, RegistryError
from credit_assets.core.modeling.training import FeatureLoader
from credit_assets.core.store import ArtifactStore, MissingArtifact
from credit_assets.defs.partitions import Refusal

AssetRef = dg.AssetsDefinition | dg.AssetKey
READ_LOG_PREFIX = "reads "
Context = dg.AssetExecutionContext | dg.AssetCheckExecutionContext


def asset_name(asset: AssetRef) -> str:
    """The folder name of an asset's artifacts."""
    key = asset.key if isinstance(asset, dg.AssetsDefinition) else asset
    return "/".join(key.path)


def _key(asset: AssetRef) -> dg.AssetKey:
    return asset.key if isinstance(asset, dg.AssetsDefinition) else asset


def readable_keys(context: Context) -> set[dg.AssetKey]:
    """The assets a running asset or check may read: its own and those it declares upstream."""
    definition = context.op_execution_context.assets_def
    return set(definition.keys) | set(definition.keys_by_input_name.values())


class UndeclaredRead(dg.DagsterInvariantViolationError):
    """A step read another asset's data without declaring it upstream: the lineage graph would be wrong."""


class StorageResource(dg.ConfigurableResource):
    """The storage root, a folder or an object-store URL; artifacts below it are addressed by asset and month
    through `ArtifactStore`."""

    root: str

    @property
    def store(self) -> ArtifactStore:
        return ArtifactStore.at(self.root)

    def _readable(self, context: Context, asset: AssetRef, months: str = "") -> str:
        """The asset's folder name once the running step is known to declare it; every read is logged."""
        key, step = _key(asset), context.op_execution_context.op_def.name
        if key not in readable_keys(context):
            raise UndeclaredRead(f"{step} reads {key.to_user_string()} without declaring it upstream")
        context.log.debug(f"{READ_LOG_PREFIX}{key.to_user_string()} {months}".rstrip())
        return asset_name(asset)

    def read_table(
        self, context: Context, asset: AssetRef, month: str, columns: list[str] | None = None
    ) -> pd.DataFrame:
        try:
            return self.store.read_table(self._readable(context, asset, month), month, columns)
        except MissingArtifact as error:
            raise Refusal(str(error)) from error

    def find_table(
        self, context: Context, asset: AssetRef, month: str, columns: list[str] | None = None
    ) -> pd.DataFrame | None:
        """A stored month of a table, or None when the asset has not produced it (yet) for the month."""
        try:
            return self.store.read_table(self._readable(context, asset, month), month, columns)
        except MissingArtifact:
            return None

    def table_loader(self, context: Context, asset: AssetRef) -> FeatureLoader:
        """Reads months of a table the running step declares upstream: (month, columns) -> frame.

        The read is logged once, not per month: a window of months would otherwise add an event log entry each.
        """
        name = self._readable(context, asset, "(the months the step needs)")

        def load(month: str, columns: list[str] | None = None) -> pd.DataFrame:
            try:
                return self.store.read_table(name, month, columns)
            except MissingArtifact as error:
                raise Refusal(str(error)) from error

        return load

    def table_months(self, context: Context, asset: AssetRef) -> list[str]:
        return self.store.table_months(self._readable(context, asset))

    def write_table(self, context: dg.AssetExecutionContext, frame: pd.DataFrame) -> str:
        """Store the running asset's month."""
        return self.store.write_table(asset_name(context.asset_key), context.partition_key, frame)

    def store_reading(self, context: Context, asset: AssetRef) -> ArtifactStore:
        """The store, for a step that reads `asset`'s registry and promotion log through core (the read is checked
        against the step's declared dependencies and logged)."""
        self._readable(context, asset)
        return self.store

    @property
    def registry(self) -> ModelRegistry:
        return ModelRegistry(self.store.blobs)

    def read_model(self, context: Context, asset: AssetRef, month: str) -> Model:
        """The champion promoted for the month by its newest decision in the promotion log."""
        found = self.find_model(context, asset, month)
        if found is None:
            raise Refusal(f"No model was promoted for {month}: materialise model for {month} first.")
        return found

    def find_model(self, context: Context, asset: AssetRef, month: str) -> Model | None:
        """The month's champion, or None when none was promoted (the month before the first scored one)."""
        self._readable(context, asset, month)
        try:
            return self.registry.champion(month)
        except (MissingArtifact, RegistryError) as error:
            raise Refusal(str(error)) from error

    def promotions(self, context: Context, asset: AssetRef) -> list[dict[str, Any]]:
        """Every entry of the promotion log, oldest first, after its chain check."""
        self._readable(context, asset)
        try:
            return self.registry.promotions()
        except RegistryError as error:
            raise Refusal(str(error)) from error

    def append_decision(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Append a decision or trigger to the promotion log; a log that fails its chain check refuses the step."""
        try:
            return self.registry.append(entry)
        except RegistryError as error:
            raise Refusal(str(error)) from error

    def read_decision(self, context: Context, asset: AssetRef, month: str) -> MonthRecord:
        """The newest promotion decision for the month: champion, challengers, rule and trigger."""
        self._readable(context, asset, month)
        decision = self.registry.decision(month)
        if decision is None:
            raise Refusal(f"No promotion decision for {month}: materialise model for {month} first.")
        return decision

    def load_version(self, context: Context, asset: AssetRef, version: str) -> Model:
        """A registry version (a champion or a challenger) after checking its files against their hashes."""
        self._readable(context, asset)
        try:
            return self.registry.load(version)
        except (MissingArtifact, RegistryError) as error:
            raise Refusal(str(error)) from error

    def report_location(self, asset: AssetRef, month: str, name: str) -> str:
        return self.store.report_location(asset_name(asset), month, name)

    def read_report(self, context: Context, asset: AssetRef, month: str, name: str) -> Any:
        found = self.find_report(context, asset, month, name)
        if found is None:
            where = self.report_location(asset, month, name)
            raise Refusal(f"{asset_name(asset)} has no report {name} for {month} ({where}): materialise it first.")
        return found

    def find_report(self, context: Context, asset: AssetRef, month: str, name: str) -> Any | None:
        """A stored JSON report, or None when the asset has not produced it for the month."""
        return self.store.find_report(self._readable(context, asset, month), month, name)

    def find_report_file(self, context: Context, asset: AssetRef, month: str, name: str) -> bytes | None:
        """A stored report file's bytes (a chart, a page), or None when the asset has not produced it for the month."""
        try:
            return self.store.read_report_file(self._readable(context, asset, month), month, name)
        except MissingArtifact:
            return None

    def report_history(self, context: Context, asset: AssetRef, name: str, last_month: str) -> list[Any]:
        """The asset's stored report `name` of every month up to `last_month`, oldest first; logged as one read."""
        months = [key for key in self.store.report_months(asset_name(asset), name) if key <= last_month]
        folder = self._readable(context, asset, f"{months[0]}..{months[-1]}" if months else "")
        return [self.store.find_report(folder, key, name) for key in months]

    def write_report(self, context: dg.AssetExecutionContext, name: str, payload: Any) -> str:
        """Store a JSON report of the running asset's month."""
        return self.store.write_report(asset_name(context.asset_key), context.partition_key, name, payload)

    def write_report_files(self, context: dg.AssetExecutionContext, files: dict[str, bytes | None]) -> dict[str, str]:
        """Store files of the running asset's month; None removes a file an earlier run left (it would contradict)."""
        return self.store.write_report_files(asset_name(context.asset_key), context.partition_key, files)
