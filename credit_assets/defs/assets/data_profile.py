"""data_profile: the article's exploratory look at every month, as a table, inline charts and an HTML report."""

import dagster as dg

from credit_assets.core.contract import schema
from credit_assets.core.monitoring import profile
from credit_assets.defs.assets.validated_applications import validated_applications
from credit_assets.defs.metadata import figures, image, table
from credit_assets.defs.partitions import monthly_asset
from credit_assets.defs.storage import StorageResource
from credit_assets.keys import PRIORITY_TAG


@monthly_asset(
    deps=[validated_applications],
    group_name="monitoring",
    kinds={"pandas"},
    # In a run, ready steps start by priority, then by name: without this the profile's 122 charts would
    # run before features, model and forecasts and delay the month's forecast file.
    op_tags={PRIORITY_TAG: "-1"},
    description="Per contract column: dtype, missing rate, summary statistics and a chart; one HTML report per month.",
)
def data_profile(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    """Profile the month's validated applications and write the self-contained HTML report."""
    month = context.partition_key
    frame = storage.read_table(context, validated_applications, month)
    profiles = profile.profile_columns(frame)
    written = storage.write_report_files(context, profile.report_files(month, len(frame), profiles))
    labelled = schema.TARGET_COLUMN in frame.columns
    return dg.MaterializeResult(
        metadata=figures(
            {
                "dagster/row_count": len(frame),
                "labelled": labelled,
                **({"target_rate": float(frame[schema.TARGET_COLUMN].mean())} if labelled else {}),
                "all_missing_columns": profile.all_missing_columns(profiles),
                "summary": table(profile.summary_table(profiles)),
                "report": dg.MetadataValue.path(str(written[profile.REPORT_FILE])),
                **{f"chart_{name}": image(png, name) for name, png in profile.key_charts(profiles).items()},
            }
        )
    )
