"""model_documentation: the month's champion's documentation pack, one HTML file per model version."""

import dagster as dg

from credit_assets.core.databases import studies_url
from credit_assets.core.modeling import change_control, comparison, documentation
from credit_assets.core.modeling.change_control import MonthRecord
from credit_assets.core.modeling.documentation import PackInputs
from credit_assets.core.modeling.lda import LdaSearch
from credit_assets.core.modeling.month_decision import FRONTIER_FILE, LDA_FILE
from credit_assets.core.modeling.tuning import STUDY_PREFIX, study_trials
from credit_assets.core.months import previous_month
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
    return documentation.trial_rows(study_trials(studies_url(storage.store), name)) if name else []


def packs_due(decision: MonthRecord) -> list[str]:
    """The champion's pack, and the pack of a candidate awaiting approval: its approver reads it first."""
    return [decision.champion, *([decision.proposed] if decision.awaiting else [])]


def development_of(
    context: dg.AssetExecutionContext, storage: StorageResource, entries: list[dict], version: str
) -> tuple[dict | None, LdaSearch | None, dict[str, bytes]]:
    """The log entry that proposed a version, its LDA search and the search's frontier chart."""
    proposal = change_control.proposal_of(entries, version)
    if proposal is None:
        return None, None, {}
    stored = storage.find_report(context, model, proposal["month"], LDA_FILE)
    chart = storage.find_report_file(context, model, proposal["month"], FRONTIER_FILE)
    images = {documentation.LDA_CHART: chart} if chart is not None else {}
    return proposal, LdaSearch.from_dict(stored) if stored else None, images


def approval_of(entries: list[dict], version: str) -> dict | None:
    """How a version became champion, from the log; None while it awaits a decision."""
    found = [reign.approval for reign in change_control.reigns(entries) if reign.version == version]
    return found[-1] if found else None


@monthly_asset(
    automation_condition=REFRESH_WHEN_UPSTREAM_CHANGES,
    deps=[model, model_comparison.model_comparison, *(asset for asset, _ in REPORTS.values())],
    group_name="governance",
    kinds={"html"},
    description="Documentation pack of the month's champion (and of a candidate awaiting approval): purpose, window "
    "and hashes, features and constraints, tuning, validation, calibration, challengers, economics, drift, "
    "fairness, change control and the search for a less discriminatory alternative, limitations, change log.",
)
def model_documentation(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    """Render the packs from the stored artifacts; store the champion's with the month and export each by version."""
    month = context.partition_key
    decision = storage.read_decision(context, model, month)
    entries = storage.promotions(context, model)
    cards = {
        item["version"]: storage.load_version(context, model, item["version"]).card for item in decision.candidates
    }
    previous = storage.find_model(context, model, previous_month(month))
    images = {title: storage.find_report_file(context, asset, month, name) for (asset, name), title in CHARTS.items()}
    shared = {
        "comparison": storage.find_report(context, model_comparison.model_comparison, month, comparison.REPORT_FILE)
        or [],
        **{key: storage.find_report(context, asset, month, name) for key, (asset, name) in REPORTS.items()},
    }
    exported = {}
    for version in packs_due(decision):
        proposal, search, frontier = development_of(context, storage, entries, version)
        pack = PackInputs(
            decision=decision,
            champion=cards[version],
            challengers=[card for other, card in cards.items() if other != version],
            previous=previous.card if previous else None,
            trials=trials_of(storage, cards[version].params_provenance),
            **shared,
            images={**{title: data for title, data in images.items() if data is not None}, **frontier},
            proposal=proposal,
            approval=approval_of(entries, version),
            search=search,
        )
        text = documentation.render(pack)
        if version == decision.champion:
            stored = storage.write_report_files(context, {PACK_FILE: text.encode("utf-8")})[PACK_FILE]
            size = len(text.encode("utf-8"))
        exported[version] = storage.store.write_documentation(version, text)
    return dg.MaterializeResult(
        metadata={
            "model_version": decision.champion,
            "documentation": dg.MetadataValue.path(exported[decision.champion]),
            "awaiting_approval_documentation": dg.MetadataValue.path(exported[decision.proposed])
            if decision.proposed in exported and decision.proposed != decision.champion
            else "-",
            "month_copy": dg.MetadataValue.path(stored),
            "size_bytes": size,
        }
    )
