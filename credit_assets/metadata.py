"""Helpers that turn frames into Dagster metadata values."""

import dagster as dg
import pandas as pd


def table_schema(frame: pd.DataFrame) -> dg.TableSchema:
    """The frame's columns and dtypes as Dagster column schema metadata."""
    return dg.TableSchema(columns=[dg.TableColumn(name, str(dtype)) for name, dtype in frame.dtypes.items()])


def _plain(value: object) -> object:
    if isinstance(value, float | int | str | bool) or value is None:
        return value
    return value.item() if hasattr(value, "item") else str(value)


def table(frame: pd.DataFrame) -> dg.TableMetadataValue:
    """A small frame as a table the Dagster UI shows."""
    records = [dg.TableRecord({str(k): _plain(v) for k, v in row.items()}) for row in frame.to_dict(orient="records")]
    return dg.MetadataValue.table(records=records, schema=table_schema(frame))
