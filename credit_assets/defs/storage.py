"""The storage resource: every artifact addressed by the asset that owns it, read only along declared lineage."""

from pathlib import Path
from typing import Any

import dagster as dg
import lightgbm as lgb
import pandas as pd

from credit_assets.core.modeling.card import ModelCard, find_model, load_model, save_model
from credit_assets.core.modeling.training import FeatureLoader
from credit_assets.core.store import ArtifactStore, MissingArtifact, read_json, write_bytes, write_json

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
    """The storage root; artifacts below it are addressed by asset and month through `ArtifactStore`."""

    root: str

    @property
    def store(self) -> ArtifactStore:
        return ArtifactStore(Path(self.root).resolve())

    def _readable(self, context: Context, asset: AssetRef, month: str | None = None) -> str:
        """The asset's folder name once the running step is known to declare it; every read is logged."""
        key, step = _key(asset), context.op_execution_context.op_def.name
        if key not in readable_keys(context):
            raise UndeclaredRead(f"{step} reads {key.to_user_string()} without declaring it upstream")
        context.log.debug(f"{READ_LOG_PREFIX}{key.to_user_string()}" + (f" {month}" if month else ""))
        return asset_name(asset)

    def read_table(
        self, context: Context, asset: AssetRef, month: str, columns: list[str] | None = None
    ) -> pd.DataFrame:
        try:
            return self.store.read_table(self._readable(context, asset, month), month, columns)
        except MissingArtifact as error:
            raise dg.Failure(str(error)) from error

    def table_loader(self, context: Context, asset: AssetRef) -> FeatureLoader:
        """Reads months of a table the running step declares upstream: (month, columns) -> frame."""
        return lambda month, columns=None: self.read_table(context, asset, month, columns)

    def table_months(self, context: Context, asset: AssetRef) -> list[str]:
        return self.store.table_months(self._readable(context, asset))

    def write_table(self, context: dg.AssetExecutionContext, frame: pd.DataFrame) -> Path:
        """Store the running asset's month."""
        return self.store.write_table(asset_name(context.asset_key), context.partition_key, frame)

    def read_model(self, context: Context, asset: AssetRef, month: str) -> tuple[lgb.Booster, ModelCard]:
        try:
            return load_model(self.store.artifact_dir(self._readable(context, asset, month), month))
        except (MissingArtifact, ValueError) as error:
            raise dg.Failure(str(error)) from error

    def find_model(self, context: Context, asset: AssetRef, month: str) -> tuple[lgb.Booster, ModelCard] | None:
        """The month's stored model, or None when there is none (the previous month of the first scored one)."""
        try:
            return find_model(self.store.artifact_dir(self._readable(context, asset, month), month))
        except ValueError as error:
            raise dg.Failure(str(error)) from error

    def write_model(self, context: dg.AssetExecutionContext, booster: lgb.Booster, card: ModelCard) -> ModelCard:
        return save_model(self.store.artifact_dir(asset_name(context.asset_key), context.partition_key), booster, card)

    def report_path(self, asset: AssetRef, month: str, name: str) -> Path:
        return self.store.artifact_dir(asset_name(asset), month) / name

    def read_report(self, context: Context, asset: AssetRef, month: str, name: str) -> Any:
        path = self.store.artifact_dir(self._readable(context, asset, month), month) / name
        if not path.is_file():
            raise dg.Failure(f"{asset_name(asset)} has no report {name} for {month} ({path}): materialise it first.")
        return read_json(path)

    def report_months(self, context: Context, asset: AssetRef, name: str) -> list[str]:
        return self.store.report_months(self._readable(context, asset), name)

    def write_report(self, context: dg.AssetExecutionContext, name: str, payload: Any) -> Path:
        """Store a JSON report of the running asset's month."""
        return write_json(self.report_path(context.asset_key, context.partition_key, name), payload)

    def write_report_files(self, context: dg.AssetExecutionContext, files: dict[str, bytes | None]) -> dict[str, Path]:
        """Store files of the running asset's month; None removes a file an earlier run left (it would contradict)."""
        written = {}
        for name, data in files.items():
            path = self.report_path(context.asset_key, context.partition_key, name)
            if data is None:
                path.unlink(missing_ok=True)
            else:
                written[name] = write_bytes(path, data)
        return written
