"""validated_applications: the month's rows after the contract's GX suite passed, with the quirks normalised.

The suite runs inside this asset, before anything is written, so a month that breaks a blocking rule
never replaces an earlier good version and never reaches features or models, however it is launched.
Normalisation: text columns become categoricals over the contract's levels; the placeholders that mean
"unknown" (CODE_GENDER 'XNA', NAME_FAMILY_STATUS 'Unknown') become missing. DAYS_EMPLOYED's sentinel and
the income outlier are kept as they are: they are real values that the features handle.
"""

from collections.abc import Iterator

import dagster as dg
import numpy as np
import pandas as pd

from credit_assets import quality, schema
from credit_assets.assets.raw_applications import raw_applications
from credit_assets.metadata import table_schema
from credit_assets.partitions import ONE_MONTH_PER_RUN, landing_file_name, monthly_partitions
from credit_assets.resources.storage import StorageResource

ASSET = "validated_applications"


def earlier_ids(storage: StorageResource, month: str) -> np.ndarray:
    """Every SK_ID_CURR of the validated months before `month` (the history included)."""
    earlier = [key for key in storage.stored_partitions(ASSET) if key < month]
    frames = [storage.read_table(ASSET, key, columns=[schema.ID_COLUMN])[schema.ID_COLUMN] for key in earlier]
    return np.unique(np.concatenate([frame.to_numpy() for frame in frames])) if frames else np.array([], dtype="int64")


def normalise(raw: pd.DataFrame) -> pd.DataFrame:
    """Contract dtypes for a frame that passed the suite: ints as int64, text as categoricals, placeholders as missing."""
    frame = raw.copy(deep=False)  # copy-on-write: replaced columns leave `raw` as it was, nothing else is copied
    for col in schema.columns():
        if col.name not in frame.columns:
            continue
        if col.dtype == "int64":
            frame[col.name] = frame[col.name].astype("int64")
        elif col.is_text:
            levels = [level for level in col.levels if level != schema.PLACEHOLDER_LEVELS.get(col.name)]
            frame[col.name] = pd.Categorical(frame[col.name], categories=levels)
    return frame


@dg.asset(
    partitions_def=monthly_partitions,
    backfill_policy=ONE_MONTH_PER_RUN,
    deps=[raw_applications],
    group_name="ingest",
    kinds={"pandas", "parquet", "great_expectations"},
    check_specs=[
        dg.AssetCheckSpec(rule, asset=ASSET, description=description, blocking=True)
        for rule, description in quality.RULES.items()
    ],
    description="The month's applications that passed every blocking contract check, in contract dtypes.",
)
def validated_applications(context: dg.AssetExecutionContext, storage: StorageResource) -> Iterator:
    """Validate the month with the GX suite; store it only when every blocking rule passed."""
    month = context.partition_key
    raw = storage.read_table("raw_applications", month)
    outcomes = quality.validate(raw, earlier_ids(storage, month))
    file_name = landing_file_name(month)
    for outcome in outcomes:
        yield dg.AssetCheckResult(
            check_name=outcome.rule,
            passed=outcome.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=outcome.summary(),
            metadata={
                "file": file_name,
                "expectations_checked": outcome.checked,
                "failures": dg.MetadataValue.md(outcome.markdown() if outcome.findings else "none"),
            },
        )
    failed = [outcome for outcome in outcomes if not outcome.passed]
    if failed:
        raise dg.Failure(
            description=f"{file_name} broke {len(failed)} blocking rule(s): " + " | ".join(o.summary() for o in failed),
            metadata={"file": file_name, "failed_rules": [o.rule for o in failed]},
        )
    frame = normalise(raw)
    storage.write_table(ASSET, month, frame)
    yield dg.MaterializeResult(metadata=_summary(frame))


def _summary(frame: pd.DataFrame) -> dict[str, object]:
    labelled = schema.TARGET_COLUMN in frame.columns
    summary: dict[str, object] = {
        "dagster/row_count": len(frame),
        "dagster/column_schema": table_schema(frame),
        "labelled": labelled,
        "days_employed_sentinel_rows": int((frame["DAYS_EMPLOYED"] == schema.DAYS_EMPLOYED_SENTINEL).sum()),
        "placeholder_levels_made_missing": {
            name: int(frame[name].isna().sum()) for name in schema.PLACEHOLDER_LEVELS
        },
    }
    if labelled:
        summary["positive_rate"] = float(frame[schema.TARGET_COLUMN].mean())
    return summary
