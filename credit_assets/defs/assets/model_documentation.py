"""model_documentation: the month's champion's documentation pack, one HTML file per model version."""

import dagster as dg

from credit_assets.core.modeling import comparison, documentation
from credit_assets.core.modeling.documentation import PackInputs
from credit_assets.core.modeling.tuning import STUDY_PREFIX, study_trials
from credit_assets.core.months import previous_month
from credit_assets.core.store import write_text
from credit_assets.defs.assets import decision_economics, drift, fairness, forecast_performance, model_comparison
from credit_assets.defs.assets.model import model
from credit_assets.defs.partitions import REFRESH_WHEN_UPSTREAM_CHANGES, monthly_asset
from credit_assets.defs.storage import StorageResource

PACK_FILE = "documentation.html"
CHARTS = {
    (model.key, "roc.png"): "ROC on the validation slice",
    (model.key, "reliability.png"): "Reliability before and after calibration",
    (model.key, "importance.png"): "Feature importance",
    (decision_economics.decision_economics.key, "profit.png"): "Profit against the cut-off",
    (decision_economics.decision_economics.key, "approval.png"): "Approval rate against bad rate",
}
REPORTS = {
    "economics": (decision_economics.decision_economics, decision_economics.RESULT_FILE),
    "drift": (drift.drift, drift.RESULT_FILE),
    "fairness": (fairness.fairness, fairness.RESULT_FILE),
    "performance": (forecast_performance.forecast_performance, forecast_performance.RESULT_FILE),
}


def trials_of(storage: StorageResource, card_provenance: dict) -> list[dict]:
    source = str(card_provenance.get("source", ""))
    name = source.removeprefix("optuna study ") if source.startswith(f"optuna study {STUDY_PREFIX}") else ""
    return documentation.trial_rows(study_trials(storage.store.optuna_storage_url, name)) if name else []


@monthly_asset(
    automation_condition=REFRESH_WHEN_UPSTREAM_CHANGES,
    deps=[model, model_comparison.model_comparison, *(asset for asset, _ in REPORTS.values())],
    group_name="governance",
    kinds={"html"},
    description="Documentation pack of the month's champion: purpose, window and hashes, features and constraints, "
    "tuning, validation, calibration, challengers, economics, drift, fairness, limitations, change log.",
)
def model_documentation(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    """Render the champion's pack from the stored artifacts; store it with the month and export it by version."""
    month = context.partition_key
    decision = storage.read_decision(context, model, month)
    cards = {
        item["version"]: storage.load_version(context, model, item["version"]).card for item in decision["candidates"]
    }
    champion = cards[decision["champion"]]
    previous = storage.find_model(context, model, previous_month(month))
    images = {title: storage.report_path(asset, month, name) for (asset, name), title in CHARTS.items()}
    pack = PackInputs(
        decision=decision,
        champion=champion,
        challengers=[card for version, card in cards.items() if version != champion.version],
        previous=previous.card if previous else None,
        trials=trials_of(storage, champion.params_provenance),
        comparison=storage.find_report(context, model_comparison.model_comparison, month, comparison.REPORT_FILE) or [],
        **{key: storage.find_report(context, asset, month, name) for key, (asset, name) in REPORTS.items()},
        images={title: path.read_bytes() for title, path in images.items() if path.is_file()},
    )
    text = documentation.render(pack)
    stored = write_text(storage.report_path(context.asset_key, month, PACK_FILE), text)
    exported = write_text(storage.store.documentation_file(champion.version), text)
    return dg.MaterializeResult(
        metadata={
            "model_version": champion.version,
            "documentation": dg.MetadataValue.path(str(exported)),
            "month_copy": dg.MetadataValue.path(str(stored)),
            "size_bytes": len(text.encode()),
        }
    )
