"""forecast_performance: how month M's forecasts did once M's labels are known, and the rolling backtest.

Labels arrive in the month's own landing file: a month first landed without TARGET is scored; when the
file is landed again with TARGET (a changed file, so the sensor runs the month again) its performance is
measured. Backfilling many labelled months therefore gives an honest rolling backtest: every month is
scored by a model trained only on the months before it.
"""

from typing import Any

import dagster as dg
import numpy as np
import pandas as pd

from credit_assets import metadata, modeling, plots, schema
from credit_assets.assets.forecasts import ASSET as FORECASTS
from credit_assets.assets.forecasts import forecasts
from credit_assets.assets.model import ASSET as MODEL
from credit_assets.assets.validated_applications import validated_applications
from credit_assets.partitions import ONE_MONTH_PER_RUN, monthly_partitions
from credit_assets.resources.storage import StorageResource

ASSET = "forecast_performance"
RESULT_FILE = "performance.json"
CALIBRATION_BINS = 10
AUC_WARNING_GAP = 0.05  # forecast AUC this far below the model's validation AUC raises a warning


def calibration_table(labels: pd.Series, probabilities: pd.Series) -> pd.DataFrame:
    """Mean predicted probability against the observed default rate in deciles of the prediction."""
    bins = pd.qcut(probabilities.rank(method="first"), CALIBRATION_BINS, labels=False)
    grouped = pd.DataFrame({"bin": bins, "predicted": probabilities, "observed": labels}).groupby("bin")
    table = grouped.agg(rows=("observed", "size"), mean_predicted=("predicted", "mean"), observed_rate=("observed", "mean"))
    return table.reset_index().astype({"bin": "int64", "rows": "int64"})


def measure(storage: StorageResource, month: str) -> dict[str, Any]:
    """Performance figures of the month's forecasts against its labels; `labelled` False when there are none."""
    validated = storage.read_table("validated_applications", month)
    if schema.TARGET_COLUMN not in validated.columns:
        return {"month": month, "labelled": False}
    scored = storage.read_table(FORECASTS, month).merge(validated[[schema.ID_COLUMN, schema.TARGET_COLUMN]], on=schema.ID_COLUMN)
    labels, probabilities = scored[schema.TARGET_COLUMN], scored["default_probability"]
    card = modeling.load_model(storage.artifact_dir(MODEL, month))[1]
    return {
        "month": month,
        "labelled": True,
        "rows": len(scored),
        "positive_rate": float(labels.mean()),
        "mean_predicted": float(probabilities.mean()),
        **modeling.metrics(labels, probabilities.to_numpy()),
        "validation_roc_auc": card["validation_metrics"]["roc_auc"],
        "model_version": card["version"],
        "calibration": calibration_table(labels, probabilities).to_dict(orient="records"),
    }


def backtest(storage: StorageResource, month: str) -> pd.DataFrame:
    """The labelled months up to `month` with their forecast and validation AUCs, oldest first."""
    root = storage.root_dir / "artifacts" / ASSET
    results = [storage.read_json(path) for path in sorted(root.glob(f"*/{RESULT_FILE}")) if path.parent.name <= month]
    rows = [{key: r[key] for key in ("month", "rows", "roc_auc", "validation_roc_auc", "brier", "positive_rate")} for r in results if r["labelled"]]
    return pd.DataFrame(rows, columns=["month", "rows", "roc_auc", "validation_roc_auc", "brier", "positive_rate"])


def backtest_png(storage: StorageResource, month: str, table: pd.DataFrame) -> bytes:
    figure, axes = plots.new_figure(7, 4)
    axes.plot(table["month"], table["roc_auc"], marker="o", label="forecast month (labels)")
    axes.plot(table["month"], table["validation_roc_auc"], marker="s", linestyle="--", label="model validation slice")
    axes.set(xlabel="month", ylabel="ROC AUC", title="Rolling backtest")
    axes.legend(loc="lower left")
    axes.tick_params(axis="x", rotation=45)
    return plots.save_png(figure, storage.artifact_dir(ASSET, month) / "backtest.png")


def calibration_png(storage: StorageResource, month: str, table: pd.DataFrame) -> bytes:
    figure, axes = plots.new_figure(5, 5)
    top = float(max(table["mean_predicted"].max(), table["observed_rate"].max(), 0.01))
    axes.plot([0, top], [0, top], linestyle="--", color="grey", label="perfect calibration")
    axes.plot(table["mean_predicted"], table["observed_rate"], marker="o", label="deciles")
    axes.set(xlabel="mean predicted probability", ylabel="observed default rate", title=f"Calibration {month}")
    axes.legend(loc="upper left")
    return plots.save_png(figure, storage.artifact_dir(ASSET, month) / "calibration.png")


@dg.asset(
    partitions_def=monthly_partitions,
    backfill_policy=ONE_MONTH_PER_RUN,
    deps=[forecasts, validated_applications],
    group_name="monitoring",
    kinds={"pandas"},
    description="ROC AUC, Brier score and calibration of the month's forecasts once its labels are known; rolling backtest.",
)
def forecast_performance(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    """Measure the month's forecasts against its labels (or record that labels are still awaited)."""
    month = context.partition_key
    result = measure(storage, month)
    storage.write_json(storage.artifact_dir(ASSET, month) / RESULT_FILE, result)
    if not result["labelled"]:
        return dg.MaterializeResult(metadata={"labelled": False, "status": "awaiting labels: land the month again with TARGET"})
    calibration = pd.DataFrame(result["calibration"])
    history = backtest(storage, month)
    return dg.MaterializeResult(
        metadata={
            "labelled": True,
            "roc_auc": result["roc_auc"],
            "brier": result["brier"],
            "validation_roc_auc": result["validation_roc_auc"],
            "positive_rate": result["positive_rate"],
            "mean_predicted": result["mean_predicted"],
            "calibration": metadata.table(calibration.round(4)),
            "calibration_plot": dg.MetadataValue.md(plots.markdown_image(calibration_png(storage, month, calibration), "calibration")),
            "backtest": metadata.table(history.round(4)),
            "backtest_plot": dg.MetadataValue.md(plots.markdown_image(backtest_png(storage, month, history), "backtest")),
        }
    )


@dg.asset_check(
    asset=forecast_performance,
    description=f"Forecast AUC is not more than {AUC_WARNING_GAP} below the model's validation AUC.",
)
def auc_holds_up(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    result = storage.read_json(storage.artifact_dir(ASSET, context.partition_key) / RESULT_FILE)
    if not result["labelled"] or result["roc_auc"] is None:
        return dg.AssetCheckResult(passed=True, description="not evaluated: no labels (or one class only) yet", metadata={"evaluated": False})
    gap = result["validation_roc_auc"] - result["roc_auc"]
    return dg.AssetCheckResult(
        passed=bool(gap <= AUC_WARNING_GAP),
        severity=dg.AssetCheckSeverity.WARN,
        description=f"forecast AUC {result['roc_auc']:.4f} vs validation AUC {result['validation_roc_auc']:.4f}",
        metadata={"evaluated": True, "gap": float(np.round(gap, 4))},
    )
