"""model: the champion that scores month M, chosen among models trained only on labelled months before M.

Every month a LightGBM (tuned in a persistent Optuna study when due) and an optbinning scorecard train on the
same window, calibrate on the same out-of-time validation slice (the newest labelled rows holding the
configured number of defaults), are refit on every labelled row unless `refit_on_all_labels` is off, and face
the same blocking checks. Both are kept in the content-addressed
registry; the promotion rule names the champion and the decision is appended to the promotion log.
"""

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from credit_assets.core.modeling.charts import model_charts
from credit_assets.core.modeling.month_model import (
    DECLARED_DIRECTIONS,
    GATE,
    NO_PROTECTED_INPUTS,
    Candidate,
    MonthModels,
    choose_champion,
    judged_for_checks,
    train_month_models,
)
from credit_assets.core.modeling.settings import ModelSettings
from credit_assets.core.months import previous_month
from credit_assets.defs.assets.features import features, training_window
from credit_assets.defs.config import config_class, to_settings
from credit_assets.defs.metadata import check_result, figures, image
from credit_assets.defs.partitions import PREVIOUS_MONTH, Refusal, monthly_asset, monthly_check_spec
from credit_assets.defs.storage import StorageResource

ASSET_KEY = dg.AssetKey("model")
MODEL_CHECKS = {
    GATE: "The champion's validation AUC reaches the floor and is not clearly below the previous champion's.",
    NO_PROTECTED_INPUTS: "No model feature is a protected attribute (sex, marital status, age) or derived from one.",
    DECLARED_DIRECTIONS: "On sweeps over each constrained feature, risk never moves against the contract's direction.",
}
ModelConfig = config_class(ModelSettings)


def trigger(context: dg.AssetExecutionContext) -> dict[str, Any]:
    """What started the run: its ID and Dagster's own tags (backfill, schedule, sensor, user)."""
    tags = {key: value for key, value in context.run.tags.items() if key.startswith("dagster/")}
    return {"run_id": context.run_id, "tags": tags}


def decision_entry(
    context: dg.AssetExecutionContext, rule: str, trained: MonthModels, champion: Candidate | None, new: set[str]
) -> dict[str, Any]:
    """The promotion log's record of this month's decision."""
    return {
        "month": context.partition_key,
        "champion": champion.model.version if champion else None,
        "rule": rule,
        "candidates": [
            {**candidate.summary(), "new_version": candidate.model.version in new}
            for candidate in trained.candidates.values()
        ],
        "previous_champion": trained.previous.version if trained.previous else None,
        "trigger": trigger(context),
        "decided_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def registered(storage: StorageResource, trained: MonthModels) -> tuple[MonthModels, set[str]]:
    """Every candidate stored in the registry (a model already there is left as it is); the new versions."""
    candidates, new = {}, set()
    for family, candidate in trained.candidates.items():
        model, added = storage.register(candidate.model)
        candidates[family] = replace(candidate, model=model)
        new |= {model.version} if added else set()
    return replace(trained, candidates=candidates), new


@monthly_asset(
    # The champion of M-1 is upstream too: the gate compares with it and tuning reuses earlier studies.
    deps=[
        dg.AssetDep(features, partition_mapping=PREVIOUS_MONTH),
        dg.AssetDep(ASSET_KEY, partition_mapping=PREVIOUS_MONTH),
    ],
    group_name="model",
    kinds={"lightgbm", "optuna", "scikit-learn"},
    check_specs=[
        monthly_check_spec(name, asset=ASSET_KEY, blocking=True, description=description)
        for name, description in MODEL_CHECKS.items()
    ],
    description="The month's champion (LightGBM or scorecard, by the promotion rule) and its challenger, "
    "calibrated; every version kept in the registry, every decision in the promotion log.",
)
def model(context: dg.AssetExecutionContext, config: ModelConfig, storage: StorageResource) -> Iterator:
    """Train both candidates, register them, choose and log the champion, and report it."""
    month = context.partition_key
    settings = to_settings(config, ModelSettings)
    data = training_window(context, storage, month, settings)
    previous = storage.find_model(context, ASSET_KEY, previous_month(month))
    trained, new = registered(
        storage, train_month_models(month, data, settings, storage.store.optuna_storage_url, previous)
    )
    champion = choose_champion(settings.promotion_rule, trained.candidates)
    decision = storage.registry.append(decision_entry(context, settings.promotion_rule, trained, champion, new))
    judged = judged_for_checks(settings.promotion_rule, trained.candidates, champion)
    results = [check_result(verdict, name) for name, verdict in judged.verdicts.items()]
    if champion is None:
        yield from results
        raise Refusal(
            description=f"No model promoted for {month} (rule {settings.promotion_rule}): {judged.refusal()}",
            metadata={"promotion_log_sequence": decision["sequence"]},
        )
    yield dg.MaterializeResult(
        check_results=results, metadata=figures(champion_metadata(context, storage, trained, champion, decision))
    )


def champion_metadata(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    trained: MonthModels,
    champion: Candidate,
    decision: dict[str, Any],
) -> dict[str, Any]:
    """The champion's card in the UI: version, window, metrics, calibration, challengers, charts, documents."""
    card = champion.model.card
    charts = model_charts(card, trained.validation_labels, champion.validation_raw, champion.validation_calibrated)
    storage.write_report_files(context, charts)
    challengers = [c.summary() for c in trained.candidates.values() if c is not champion]
    return {
        "model_version": card.version,
        "family": card.family,
        "promotion_rule": decision["rule"],
        "promotion_log_sequence": decision["sequence"],
        "new_versions": ", ".join(c["version"] for c in decision["candidates"] if c["new_version"]) or "none",
        **{f"validation_{name}": value for name, value in card.validation_metrics.items()},
        "calibration_method": card.calibration["method"],
        "ece_before": card.calibration["ece_before"],
        "ece_after": card.calibration["ece_after"],
        "challengers": dg.MetadataValue.json(challengers),
        "train_months": ", ".join(card.window["train_months"]),
        "validation_months": ", ".join(card.window["validation_months"]),
        "train_rows": card.window["train_rows"],
        "validation_rows": card.window["validation_rows"],
        "validation_defaults": card.window["validation_defaults"],
        "validation_slice_sufficient": card.window["validation_sufficient"],
        "validation_metrics_of": "the fit on the training rows before the refit (out of time)"
        if card.window["refit_on_all_labels"]
        else "the deployed model (out of time)",
        "refit_on_all_labels": card.window["refit_on_all_labels"],
        "deployed_train_months": ", ".join(card.window["deployed_train_months"]),
        "deployed_train_rows": card.window["deployed_train_rows"],
        "deployed_train_defaults": card.window["deployed_train_defaults"],
        "best_iteration": card.best_iteration,
        "feature_count": len(card.features),
        "params": dg.MetadataValue.json(card.params),
        "params_provenance": dg.MetadataValue.json(card.params_provenance),
        "roc_curve": image(charts["roc.png"], "ROC"),
        "reliability": image(charts["reliability.png"], "reliability"),
        "feature_importance": image(charts["importance.png"], "importance"),
        "registry_folder": dg.MetadataValue.path(str(storage.registry.folder(card.version))),
        "documentation": dg.MetadataValue.path(str(storage.store.documentation_file(card.version))),
    }
