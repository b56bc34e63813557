"""validated_applications: the month's rows after the contract's GX suite passed, with the quirks normalised.

The suite runs inside this asset, before anything is written, so a month that breaks a blocking rule never
replaces an earlier good version and never reaches features or models, however it is launched.
"""

from collections.abc import Iterator

import dagster as dg

from credit_assets.core.contract import quality, schema
from credit_assets.core.contract.normalise import normalise, quirk_counts
from credit_assets.core.months import landing_file_name
from credit_assets.defs.assets.raw_applications import raw_applications
from credit_assets.defs.metadata import figures, table_schema
from credit_assets.defs.partitions import Refusal, monthly_asset, monthly_check_spec
from credit_assets.defs.storage import StorageResource

ASSET_KEY = dg.AssetKey("validated_applications")


def check_metadata(outcome: quality.RuleOutcome, file_name: str) -> dict[str, str | dg.MarkdownMetadataValue]:
    """The file a rule judged and, only when it failed, its failures. Nothing constant: the UI plots every number
    a check reports month after month, and how many column checks a rule made is in its description."""
    failures = {"failures": dg.MetadataValue.md(outcome.markdown())} if outcome.findings else {}
    return {"file": file_name, **failures}


@monthly_asset(
    deps=[raw_applications],
    group_name="ingest",
    kinds={"pandas", "parquet", "great_expectations"},
    check_specs=[
        monthly_check_spec(rule.value, asset=ASSET_KEY, description=rule.description, blocking=True)
        for rule in quality.Rule
    ],
    description="The month's applications that passed every blocking contract check, in contract dtypes.",
)
def validated_applications(context: dg.AssetExecutionContext, storage: StorageResource) -> Iterator:
    """Validate the month with the GX suite; store it only when every blocking rule passed."""
    month, file_name = context.partition_key, landing_file_name(context.partition_key)
    raw = storage.read_table(context, raw_applications, month)
    load = storage.table_loader(context, ASSET_KEY)
    seen = quality.ids_before(
        month, storage.table_months(context, ASSET_KEY), lambda key: load(key, [schema.ID_COLUMN])[schema.ID_COLUMN]
    )
    outcomes = quality.validate(raw, seen)
    results = [
        dg.AssetCheckResult(
            check_name=outcome.rule.value,
            passed=outcome.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=outcome.summary(),
            metadata=check_metadata(outcome, file_name),
        )
        for outcome in outcomes
    ]
    failed = [outcome for outcome in outcomes if not outcome.passed]
    if failed:  # the results target the month's last good version, which stays as it was
        yield from results
        raise Refusal(
            description=f"{file_name} broke {len(failed)} blocking rule(s): " + " | ".join(o.summary() for o in failed),
            metadata={"file": file_name, "failed_rules": [o.rule.value for o in failed]},
        )
    frame = normalise(raw)
    storage.write_table(context, frame)
    labelled = schema.TARGET_COLUMN in frame.columns
    yield dg.MaterializeResult(  # reported with the version they checked, so the month's checks read as current
        check_results=results,
        metadata=figures(
            {
                "dagster/row_count": len(frame),
                "dagster/column_schema": table_schema(frame),
                "labelled": labelled,
                **({"positive_rate": float(frame[schema.TARGET_COLUMN].mean())} if labelled else {}),
                **quirk_counts(frame),
            }
        ),
    )
