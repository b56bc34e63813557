"""model_comparison: the article's PyCaret model comparison, rebuilt with scikit-learn Pipelines (on request)."""

import dagster as dg
import pandas as pd

from credit_assets.core.modeling import comparison
from credit_assets.core.modeling.comparison import ComparisonSettings
from credit_assets.defs.assets.features import features, training_window
from credit_assets.defs.config import config_class, to_settings
from credit_assets.defs.metadata import image, table
from credit_assets.defs.partitions import PREVIOUS_MONTH, monthly_asset
from credit_assets.defs.storage import StorageResource

ComparisonConfig = config_class(ComparisonSettings)


@monthly_asset(
    deps=[dg.AssetDep(features, partition_mapping=PREVIOUS_MONTH)],
    group_name="comparison",
    kinds={"scikit-learn", "lightgbm"},
    description="Five model families on the model's out-of-time split (the article's PyCaret comparison).",
)
def model_comparison(
    context: dg.AssetExecutionContext, config: ComparisonConfig, storage: StorageResource
) -> dg.MaterializeResult:
    """Train and score every candidate; store the ranking as JSON and show it as a table and chart."""
    month = context.partition_key
    data = training_window(context, storage, month)
    report = comparison.run_comparison(month, data, to_settings(config, ComparisonSettings), context.log.info)
    path = storage.write_report(context, comparison.REPORT_FILE, report)
    results = pd.DataFrame(report["models"])
    chart = comparison.auc_chart(month, results)
    storage.write_report_files(context, {comparison.CHART_FILE: chart})
    return dg.MaterializeResult(
        metadata={
            "comparison": table(results),
            "roc_auc_chart": image(chart, "ROC AUC per model"),
            "best_model": report["best_model"],
            "best_roc_auc": report["models"][0]["roc_auc"],
            "train_months": ", ".join(data.train_months),
            "validation_months": ", ".join(data.validation_months),
            **{key: report[key] for key in ("train_rows", "train_rows_used", "validation_rows")},
            "report": dg.MetadataValue.path(str(path)),
        }
    )
