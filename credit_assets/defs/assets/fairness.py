"""fairness: fair-lending monitoring of the month's decisions by sex, age band and marital status."""

import dagster as dg

from credit_assets.core.monitoring import fairness as core_fairness
from credit_assets.core.monitoring.fairness import DIFFERENCES, Fairness, FairnessSettings
from credit_assets.defs.assets.forecasts import forecasts
from credit_assets.defs.assets.validated_applications import validated_applications
from credit_assets.defs.config import config_class, to_settings
from credit_assets.defs.metadata import check_result, figures, image, table
from credit_assets.defs.partitions import monthly_asset, monthly_check
from credit_assets.defs.storage import StorageResource

RESULT_FILE = "fairness.json"
FairnessConfig = config_class(FairnessSettings)


def group_tables(result: Fairness) -> dict[str, dg.TableMetadataValue | float | str | None]:
    """Per attribute: its decision table, its outcome table and the differences between its groups."""
    tables: dict[str, dg.TableMetadataValue | float | str | None] = {}
    min_group_size = result.limits["min_group_size"]
    for attribute, found in result.attributes.items():
        reference = found["reference_group"]
        tables[attribute] = table(core_fairness.decision_table(found["groups"], min_group_size, reference))
        tables[f"{attribute}_reference"] = reference
        tables[f"{attribute}_outcomes"] = table(core_fairness.outcome_table(found["groups"], result.labelled))
        tables.update({f"{attribute}_{metric}": found[metric] for metric in DIFFERENCES})
    return tables


@monthly_asset(
    deps=[forecasts, validated_applications],
    group_name="monitoring",
    kinds={"pandas", "scipy"},
    description="Fair-lending monitoring by sex, age band and marital status: approval rates, adverse impact ratios "
    "against the policy's reference groups with Holm-corrected significance, default and error rates.",
)
def fairness(
    context: dg.AssetExecutionContext, config: FairnessConfig, storage: StorageResource
) -> dg.MaterializeResult:
    """Measure the month's decisions across the protected groups and store the figures as JSON."""
    month = context.partition_key
    joined = core_fairness.month_frame(
        storage.read_table(context, forecasts, month), storage.read_table(context, validated_applications, month)
    )
    result = core_fairness.assess(month, joined, to_settings(config, FairnessSettings))
    storage.write_report(context, RESULT_FILE, result.to_dict())
    chart = core_fairness.rates_png(result)
    storage.write_report_files(context, {"rates.png": chart})
    return dg.MaterializeResult(
        metadata=figures(
            {
                "dagster/row_count": result.rows,
                "labelled": result.labelled,
                **group_tables(result),
                "rates_plot": image(chart, "approval and default rates by group"),
                "not_evaluated": dg.MetadataValue.json(core_fairness.not_evaluated(result)),
                "limits": dg.MetadataValue.json(result.limits),
            }
        )
    )


@monthly_check(
    asset=fairness,
    description="No group of applicants has an adverse impact ratio against its attribute's reference group below "
    "the four-fifths limit that is also statistically significant (Fisher's exact test, Holm-corrected across "
    "the month's groups).",
)
def no_significant_adverse_impact(
    context: dg.AssetCheckExecutionContext, storage: StorageResource
) -> dg.AssetCheckResult:
    """Warn, naming attribute, group and figures, when a stored disparity is beyond the limit and significant."""
    stored = storage.read_report(context, fairness, context.partition_key, RESULT_FILE)
    return check_result(core_fairness.no_significant_adverse_impact(Fairness.from_dict(stored)))
