"""decision_economics: expected loss and profit of the month's forecasts at the configured and recommended cut-offs."""

import dagster as dg
import pandas as pd

from credit_assets.core import economics
from credit_assets.core.contract import schema
from credit_assets.core.economics import Economics, EconomicsSettings
from credit_assets.core.scoring import Cutoffs
from credit_assets.defs.assets.features import features
from credit_assets.defs.assets.forecasts import CUTOFFS_FILE, forecasts
from credit_assets.defs.config import config_class, to_settings
from credit_assets.defs.metadata import check_result, figures, image, table
from credit_assets.defs.partitions import REFRESH_WHEN_UPSTREAM_CHANGES, Refusal, monthly_asset, monthly_check
from credit_assets.defs.storage import StorageResource

RESULT_FILE = "economics.json"
EconomicsConfig = config_class(EconomicsSettings)


@monthly_asset(
    automation_condition=REFRESH_WHEN_UPSTREAM_CHANGES,
    deps=[forecasts, features],
    group_name="governance",
    kinds={"pandas"},
    description="Expected loss (PD x LGD x EAD) and profit per cut-off; the most profitable cut-off and the one for a "
    "target approval rate next to the configured ones; realised profit once the month is labelled.",
)
def decision_economics(
    context: dg.AssetExecutionContext, config: EconomicsConfig, storage: StorageResource
) -> dg.MaterializeResult:
    """Judge the cut-offs the month's forecasts used by their expected profit."""
    month = context.partition_key
    settings = to_settings(config, EconomicsSettings)
    cutoffs = Cutoffs(**storage.read_report(context, forecasts, month, CUTOFFS_FILE))
    columns = [schema.ID_COLUMN, economics.EXPOSURE_COLUMN, schema.TARGET_COLUMN]
    try:
        result = economics.assess(
            month,
            storage.read_table(context, forecasts, month),
            storage.read_table(context, features, month, columns),
            cutoffs,
            settings,
        )
    except ValueError as error:
        raise Refusal(f"decision economics for {month}: {error}") from error
    storage.write_report(context, RESULT_FILE, result.to_dict())
    charts = {"profit.png": economics.profit_png(result, cutoffs), "approval.png": economics.approval_png(result)}
    storage.write_report_files(context, charts)
    return dg.MaterializeResult(
        metadata=figures(
            {
                "policies": table(pd.DataFrame(result.policies)),
                "best_expected_profit": result.best_expected_profit,
                "configured_expected_profit": result.configured_expected_profit,
                "shortfall": result.shortfall,
                "labelled": result.labelled,
                "profit_curve": image(charts["profit.png"], "profit"),
                "approval_curve": image(charts["approval.png"], "approval"),
            }
        )
    )


@monthly_check(
    asset=decision_economics,
    description="The configured cut-offs give up at most the configured share of the best expected profit.",
)
def cutoffs_near_best_profit(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    result = Economics.from_dict(storage.read_report(context, decision_economics, context.partition_key, RESULT_FILE))
    return check_result(economics.cutoffs_near_best(result, EconomicsSettings(**result.settings)))
