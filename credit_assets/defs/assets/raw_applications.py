"""raw_applications: a month's landing CSV, read against the contract and stored as typed Parquet."""

import hashlib

import dagster as dg

from credit_assets.core.contract.landing import LandingFileError, parse_landing_csv
from credit_assets.core.months import landing_file_name
from credit_assets.defs.metadata import table_schema
from credit_assets.defs.partitions import Refusal, monthly_asset
from credit_assets.defs.storage import StorageResource
from credit_assets.keys import SOURCE_SHA256


@monthly_asset(
    group_name="ingest",
    kinds={"pandas", "parquet"},
    description="The month's landing file `applications_YYYY-MM.csv` as typed Parquet (the landing file is kept).",
)
def raw_applications(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    """Read the month's landing CSV with the contract's dtypes and store it as Parquet."""
    store, name = storage.store, landing_file_name(context.partition_key)
    if not store.has_landing(name):
        raise Refusal(f"No landing file for {context.partition_key}: expected {store.landing_location(name)}.")
    data = store.read_landing(name)
    try:
        frame = parse_landing_csv(name, data)
    except LandingFileError as error:
        raise Refusal(
            description=str(error),
            metadata={
                "file": store.landing_location(name),
                "column": error.column or "(file)",
                "rule": error.rule,
                "detail": error.detail,
            },
        ) from error
    storage.write_table(context, frame)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(frame),
            "dagster/column_schema": table_schema(frame),
            "source_file": name,
            SOURCE_SHA256: hashlib.sha256(data).hexdigest(),
            "source_bytes": len(data),
        }
    )


def last_materialisation(instance: dg.DagsterInstance, month: str) -> tuple[str | None, str] | None:
    """(source SHA-256, run id) of the month's latest raw_applications materialisation, if any."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=raw_applications.key, asset_partitions=[month]), limit=1
    ).records
    if not records:
        return None
    source = records[0].asset_materialization.metadata.get(SOURCE_SHA256)
    return (source.value if source is not None else None), records[0].run_id
