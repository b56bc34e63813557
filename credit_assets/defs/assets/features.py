"""features: model features of the month, the same columns every month, with their column lineage."""

import dagster as dg

from credit_assets.core.contract import schema
from credit_assets.core.features import build_features, feature_names, feature_sources, require_consistent_contract
from credit_assets.core.modeling.settings import ModelSettings
from credit_assets.core.modeling.training import TrainingData, training_data
from credit_assets.defs.assets.validated_applications import validated_applications
from credit_assets.defs.metadata import table_schema
from credit_assets.defs.partitions import Refusal, monthly_asset
from credit_assets.defs.storage import StorageResource

# The definitions refuse to load while the contract contradicts the fair-lending policy (naming column and rule).
require_consistent_contract()


def column_lineage() -> dg.TableColumnLineage:
    """Which validated_applications columns each feature is computed from."""
    return dg.TableColumnLineage(
        deps_by_column={
            name: [dg.TableColumnDep(asset_key=validated_applications.key, column_name=column) for column in columns]
            for name, columns in feature_sources().items()
        }
    )


@monthly_asset(
    deps=[validated_applications],
    group_name="ingest",
    kinds={"pandas", "parquet"},
    description="Model features of the month: the contract's model inputs, sentinel flags and credit ratios; "
    "no protected attribute and nothing derived from one.",
)
def features(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    """Build and store the month's features."""
    frame = build_features(storage.read_table(context, validated_applications, context.partition_key))
    storage.write_table(context, frame)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(frame),
            "dagster/column_schema": table_schema(frame),
            "dagster/column_lineage": column_lineage(),
            "feature_count": len(feature_names()),
            "labelled_rows": int(frame[schema.TARGET_COLUMN].notna().sum()),
        }
    )


def training_window(
    context: dg.AssetExecutionContext, storage: StorageResource, month: str, settings: ModelSettings
) -> TrainingData:
    """The labelled feature months before `month`, split out of time; a failure naming what to materialise."""
    try:
        months, load = storage.table_months(context, features), storage.table_loader(context, features)
        return training_data(months, load, month, settings)
    except ValueError as error:
        raise Refusal(str(error)) from error
