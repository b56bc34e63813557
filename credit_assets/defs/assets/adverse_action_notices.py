"""adverse_action_notices: what each referred or declined applicant of the month is told, and nothing more."""

import dagster as dg

from credit_assets.core import scoring
from credit_assets.core.scoring import NoticeSettings
from credit_assets.core.store import write_csv
from credit_assets.defs.assets.forecasts import forecasts
from credit_assets.defs.config import config_class, to_settings
from credit_assets.defs.metadata import table
from credit_assets.defs.partitions import monthly_asset
from credit_assets.defs.storage import StorageResource

NoticeConfig = config_class(NoticeSettings, "NoticeConfig")


@monthly_asset(
    deps=[forecasts],
    group_name="model",
    kinds={"parquet", "csv"},
    description="Adverse-action notices of the month: SK_ID_CURR, decision, up to four specific reasons, model "
    "version and decision date for every referred or declined application; CSV export.",
)
def adverse_action_notices(
    context: dg.AssetExecutionContext, config: NoticeConfig, storage: StorageResource
) -> dg.MaterializeResult:
    """Export the month's notices atomically."""
    month = context.partition_key
    settings = to_settings(config, NoticeSettings)
    notices = scoring.adverse_action_notices(storage.read_table(context, forecasts, month), month, settings)
    storage.write_table(context, notices)
    export = write_csv(storage.store.notices_dir / f"notices_{month}.csv", notices)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(notices),
            "decision_date": notices["decision_date"].iloc[0] if len(notices) else settings.decision_date,
            "export": dg.MetadataValue.path(str(export)),
            "preview": table(notices.head(10)),
        }
    )
