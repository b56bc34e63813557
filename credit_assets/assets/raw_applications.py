"""raw_applications: a month's landing CSV, read against the contract and stored as typed Parquet."""

import dagster as dg

from credit_assets.landing import LandingFileError, read_landing_csv
from credit_assets.metadata import table_schema
from credit_assets.partitions import ONE_MONTH_PER_RUN, landing_file_name, monthly_partitions
from credit_assets.resources.storage import StorageResource, sha256_of


def last_materialisation(instance: dg.DagsterInstance, month: str) -> tuple[str | None, str] | None:
    """(source SHA-256, run id) of the month's latest raw_applications materialisation, if any."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=raw_applications.key, asset_partitions=[month]), limit=1
    ).records
    if not records:
        return None
    source = records[0].asset_materialization.metadata.get("source_sha256")
    return (source.value if source is not None else None), records[0].run_id


@dg.asset(
    partitions_def=monthly_partitions,
    backfill_policy=ONE_MONTH_PER_RUN,
    group_name="ingest",
    kinds={"pandas", "parquet"},
    description="The month's landing file `applications_YYYY-MM.csv` as typed Parquet (the landing file is kept).",
)
def raw_applications(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    """Read the month's landing CSV with the contract's dtypes and store it as Parquet."""
    path = storage.landing_dir / landing_file_name(context.partition_key)
    if not path.is_file():
        raise dg.Failure(f"No landing file for {context.partition_key}: expected {path}.")
    try:
        frame = read_landing_csv(path)
    except LandingFileError as error:
        raise dg.Failure(
            description=str(error),
            metadata={"file": str(path), "column": error.column or "(file)", "rule": error.rule, "detail": error.detail},
        ) from error
    storage.write_table("raw_applications", context.partition_key, frame)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(frame),
            "dagster/column_schema": table_schema(frame),
            "source_file": path.name,
            "source_sha256": sha256_of(path),
            "source_bytes": path.stat().st_size,
        }
    )
