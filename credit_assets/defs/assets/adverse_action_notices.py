"""adverse_action_notices: what each applicant finally declined in the month is told, and nothing more."""

import dagster as dg

from credit_assets.core.decisions import notices as core_notices
from credit_assets.core.decisions.log import now_utc
from credit_assets.core.scoring import NoticeSettings
from credit_assets.core.store import NOTICES_EXPORT
from credit_assets.defs.assets.decisions import decisions
from credit_assets.defs.assets.forecasts import forecasts
from credit_assets.defs.config import config_class, to_settings
from credit_assets.defs.metadata import check_result, table
from credit_assets.defs.partitions import monthly_asset, monthly_check
from credit_assets.defs.storage import StorageResource

NoticeConfig = config_class(NoticeSettings, "NoticeConfig")
BATCH_ONLY_NOTE = (
    "declines of applications never decided live carry the batch's decision date and no application date (the "
    "monthly file does not hold it): they are reported, not judged, by the 30-day rule"
)


@monthly_asset(
    deps=[forecasts, decisions],
    group_name="model",
    kinds={"parquet", "csv"},
    description="Adverse-action notices of the month, one per final decline only (a referral is no decision): "
    "SK_ID_CURR, decision, up to four specific reasons, model version, decision date, decided by (model or "
    "underwriter) and application date. A live decline is dated by its decision (an underwriter's decline by the "
    f"underwriter's, the underwriter's statement first); {BATCH_ONLY_NOTE}. CSV export.",
)
def adverse_action_notices(
    context: dg.AssetExecutionContext, config: NoticeConfig, storage: StorageResource
) -> dg.MaterializeResult:
    """Export the month's notices atomically."""
    month = context.partition_key
    settings = to_settings(config, NoticeSettings)
    notices = core_notices.month_notices(
        storage.read_table(context, decisions, month), storage.find_table(context, forecasts, month), month, settings
    )
    storage.write_table(context, notices)
    export = storage.store.write_export(NOTICES_EXPORT, month, notices)
    batch = notices[notices["application_date"] == ""]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(notices),
            "decided_by": dg.MetadataValue.json(notices["decided_by"].value_counts().to_dict()),
            "decision_date": batch["decision_date"].iloc[0] if len(batch) else settings.decision_date,
            "batch_only_declines": len(batch),
            "batch_only_note": BATCH_ONLY_NOTE,
            "export": dg.MetadataValue.path(export),
            "preview": table(notices.head(10)),
        }
    )


@monthly_check(
    asset=adverse_action_notices,
    additional_deps=[decisions],
    blocking=True,
    description="Every live final decline of the month has its notice within 30 days of the application (12 CFR "
    "1002.9(a)(1)), no underwriter approves a referral after that, and no live referral waits longer than that for "
    "its underwriter, at the time of the check; batch-only declines are reported, not judged.",
)
def declines_noticed_within_30_days(
    context: dg.AssetCheckExecutionContext, storage: StorageResource
) -> dg.AssetCheckResult:
    month = context.partition_key
    found = core_notices.timeliness(
        storage.read_table(context, decisions, month),
        storage.read_table(context, adverse_action_notices, month),
        now_utc(),
    )
    return check_result(core_notices.declines_noticed_within_deadline(found))
