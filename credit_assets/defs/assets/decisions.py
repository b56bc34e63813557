"""decisions: the month's live decisions (made as applications arrived) folded into the monitoring.

Counts by decision, model version and caller, underwriters' outcomes and the override report, drift against the
champion's training window, fair-lending figures and, once labelled, performance, all with the batch's code; the
checks compare the live decisions with the batch forecasts and watch their fair lending.
"""

from typing import Any

import dagster as dg
import pandas as pd

from credit_assets.core.decisions import monitoring
from credit_assets.core.decisions.monitoring import BatchComparison, DecisionsFold, FoldSettings
from credit_assets.core.monitoring import fairness as core_fairness
from credit_assets.core.monitoring.fairness import Fairness
from credit_assets.core.verdict import Severity, Verdict
from credit_assets.defs.assets.fairness import group_tables
from credit_assets.defs.assets.features import features
from credit_assets.defs.assets.forecasts import forecasts
from credit_assets.defs.assets.model import model
from credit_assets.defs.assets.validated_applications import validated_applications
from credit_assets.defs.decision_log import DecisionLogResource
from credit_assets.defs.metadata import check_result, figures, table
from credit_assets.defs.partitions import monthly_asset, monthly_check
from credit_assets.defs.storage import StorageResource

RESULT_FILE = "decisions.json"


def override_tables(overrides: dict[str, Any]) -> dict[str, Any]:
    """The override report: its totals, the table by reason code and one table per protected attribute."""
    return {
        "override_rate": overrides["override_rate"],
        "overrides": overrides["overrides"],
        "overrides_by_reason": table(pd.DataFrame(overrides["by_reason"], dtype=object)),
        **{
            f"overrides_by_{attribute}": table(pd.DataFrame(rows, dtype=object))
            for attribute, rows in overrides["by_group"].items()
        },
    }


def monitor_figures(result: DecisionsFold) -> dict[str, Any]:
    """Drift, fairness and performance of the live decisions, where evaluated."""
    found: dict[str, Any] = {}
    if result.drift:
        found["probability_psi"] = result.drift["probability_psi"]
        found["drift_model_version"] = result.drift["model_version"]
        top = [row for row in result.drift["features"] if row["feature"] in result.drift["top_features"]]
        found["top_features_drift"] = table(pd.DataFrame(top, dtype=object))
    if result.fairness:
        found.update({f"fairness_{k}": v for k, v in group_tables(Fairness.from_dict(result.fairness)).items()})
    if result.performance:
        found.update({f"live_{k}": result.performance[k] for k in ("rows", "roc_auc", "brier", "positive_rate")})
    return found


def fold_metadata(result: DecisionsFold, path: str) -> dict[str, Any]:
    """Every metadata entry of the asset, named here only."""
    return figures(
        {
            "dagster/row_count": result.decisions,
            "applications": result.applications,
            "decision_counts": dg.MetadataValue.json(result.by_decision),
            "decision_shares": dg.MetadataValue.json(result.shares),
            "final_decision_counts": dg.MetadataValue.json(result.final_by_decision),
            "referrals": dg.MetadataValue.json(result.referrals),
            "by_model_version": table(pd.DataFrame(result.by_model_version, dtype=object)),
            "by_caller": table(pd.DataFrame(result.by_caller, dtype=object)),
            "batch_comparison": dg.MetadataValue.json({k: v for k, v in result.comparison.items() if k != "examples"}),
            **override_tables(result.overrides),
            **monitor_figures(result),
            "not_evaluated": dg.MetadataValue.json(result.not_evaluated),
            "result_file": dg.MetadataValue.path(path),
        }
    )


@monthly_asset(
    deps=[forecasts, model, features, validated_applications],
    group_name="monitoring",
    kinds={"sqlalchemy", "pandas"},
    description="The month's live decisions from the decision log: counts by decision, model version and caller, "
    "underwriters' outcomes and the override report (by reason code and protected group), drift against the "
    "champion's training window, fair-lending figures of the final decisions and, once labelled, performance; "
    "the batch forecasts are read when they exist (a month decided live but not yet scored still folds).",
)
def decisions(
    context: dg.AssetExecutionContext, storage: StorageResource, decision_log: DecisionLogResource
) -> dg.MaterializeResult:
    """Fold the month's logged decisions; store the decision table and the figures as JSON for the checks."""
    month = context.partition_key
    logged, underwriting = decision_log.month(month)
    version = monitoring.main_version(logged)
    result, frame = monitoring.fold(
        month,
        logged,
        underwriting,
        storage.find_table(context, forecasts, month),
        storage.find_table(context, validated_applications, month) if logged else None,  # labels, when known
        storage.load_version(context, model, version) if version else None,
        storage.table_loader(context, features),
        FoldSettings(),
    )
    storage.write_table(context, frame)
    path = storage.write_report(context, RESULT_FILE, result.to_dict())
    return dg.MaterializeResult(metadata=fold_metadata(result, str(path)))


def _stored(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> DecisionsFold:
    return DecisionsFold.from_dict(storage.read_report(context, decisions, context.partition_key, RESULT_FILE))


@monthly_check(
    asset=decisions,
    blocking=True,
    description="Every logged decision whose application the month's batch scored with the same model version has "
    "the batch's probability (within 1e-9), decision and reasons; another version is reported as not comparable; "
    "a month without batch forecasts passes, saying so.",
)
def live_matches_batch(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    found = BatchComparison.from_dict(_stored(context, storage).comparison)
    return check_result(monitoring.live_matches_batch(found))


@monthly_check(
    asset=decisions,
    description="No group of live applicants has an adverse impact ratio of its final decisions below the "
    "four-fifths limit that is also statistically significant (the batch fairness check on live traffic).",
)
def live_no_significant_adverse_impact(
    context: dg.AssetCheckExecutionContext, storage: StorageResource
) -> dg.AssetCheckResult:
    stored = _stored(context, storage)
    if stored.fairness is None:
        return check_result(Verdict(True, "not evaluated: no live decisions this month", Severity.WARN))
    return check_result(core_fairness.no_significant_adverse_impact(Fairness.from_dict(stored.fairness)))
