"""model: the champion that scores month M, and the candidates developed for M when a trigger fired.

The champion stays until a trigger fires: the scheduled review (every `review_every_months`), or a monitoring
trigger an earlier month's `model_review` recorded (critical drift, AUC decay, calibration in the large, a new
disparity). A month without a trigger scores with the champion in force and trains nothing. A triggered month
develops candidates: a LightGBM (tuned in a persistent Optuna study when due) and a scorecard on the same window,
calibrated on the same out-of-time slice, refit on every labelled row unless `refit_on_all_labels` is off, plus the
search for a less discriminatory alternative (proxy analysis and alternatives, a frontier and the policy that
proposes one). The proposed candidate becomes champion only when a `model_risk` user approves it in the portal (or
an approval rule with explicit limits does); until then the old champion keeps scoring. Every version is kept in
the content-addressed registry and every decision, trigger and approval in the promotion log.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg
import pandas as pd

from credit_assets.core.modeling import change_control, compliance, lda, month_decision
from credit_assets.core.modeling.change_control import MonthRecord, Plan
from credit_assets.core.modeling.models import Model
from credit_assets.core.modeling.month_decision import PROTECTED_COLUMNS, DevelopmentInputs, MonthDecision, RunInfo
from credit_assets.core.modeling.month_model import (
    DECLARED_DIRECTIONS,
    GATE,
    NO_PROTECTED_INPUTS,
    Candidate,
    Development,
)
from credit_assets.core.modeling.registry import RegistryError
from credit_assets.core.modeling.settings import ModelSettings
from credit_assets.core.months import FIRST_MONTH, history_note
from credit_assets.core.store import MissingArtifact
from credit_assets.core.verdict import Severity, Verdict
from credit_assets.defs.assets.features import features, training_window
from credit_assets.defs.assets.validated_applications import validated_applications
from credit_assets.defs.config import config_class, deployment_defaults, to_settings
from credit_assets.defs.metadata import check_result, figures, image, table
from credit_assets.defs.partitions import PREVIOUS_MONTH, Refusal, monthly_asset, monthly_check_spec
from credit_assets.defs.storage import StorageResource
from credit_assets.keys import USER_TAG

ASSET_KEY = dg.AssetKey(month_decision.MODEL_ASSET)
CHAMPION_APPROVED = "champion_approved"
MODEL_CHECKS = {
    GATE: "The model that scores the month reached the AUC floor and was not clearly below the champion before it.",
    NO_PROTECTED_INPUTS: "No model feature is a protected attribute (sex, marital status, age) or derived from one.",
    DECLARED_DIRECTIONS: "On sweeps over each constrained feature, risk never moves against the contract's direction.",
}
APPROVAL_CHECK = (
    "The champion that scores the month was approved by a model_risk user, or automatically within explicit limits."
)
# The deployment's model settings where a run's config names none (the sensor's and the schedules' runs), as a JSON
# object of ModelSettings fields: approval is model_risk unless the deployment says otherwise (a development or test
# deployment may say {"approval": "none"}; every champion that takes effect so is logged as unapproved and the
# champion_approved check warns each month it scores); a staging deployment may tune fewer trials.
MODEL_DEFAULTS_SETTING = "CREDIT_ASSETS_MODEL_DEFAULTS"
ModelConfig = config_class(ModelSettings, defaults=deployment_defaults(ModelSettings, MODEL_DEFAULTS_SETTING))


def run_info(context: dg.AssetExecutionContext) -> RunInfo:
    """What started the run: its ID, Dagster's own tags (backfill, schedule, sensor, user) and the requesting user."""
    tags = {key: value for key, value in context.run.tags.items() if key.startswith("dagster/")}
    return RunInfo(context.run_id, tags, [tags[USER_TAG]] if USER_TAG in tags else [])


def development_inputs(
    context: dg.AssetExecutionContext, storage: StorageResource, settings: ModelSettings
) -> DevelopmentInputs:
    """The training window, and the protected attributes of the validation months' applicants (joined to decisions
    in the LDA search only)."""
    data = training_window(context, storage, context.partition_key, settings)
    load = storage.table_loader(context, validated_applications)
    protected = pd.concat([load(month, PROTECTED_COLUMNS) for month in data.validation_months], ignore_index=True)
    return DevelopmentInputs(data, protected)


def kept_verdicts(entry: dict[str, Any], champion: Model) -> dict[str, Verdict]:
    """The blocking verdicts of a champion kept from an earlier month: its inputs checked again now, the rest as
    recorded when it was developed."""
    summary = next(c for c in entry["candidates"] if c["version"] == champion.version)
    recorded = {
        name: Verdict(v["passed"], f"as verified when developed: {v['description']}")
        for name, v in summary["verdicts"].items()
    }
    return {**recorded, NO_PROTECTED_INPUTS: compliance.protected_inputs(champion.card.features)}


def approved_verdict(decision: MonthRecord) -> Verdict:
    """Whether the month's champion was approved by a person or within explicit limits."""
    if decision.champion is None:
        return Verdict(False, "no champion in force", Severity.WARN)
    state_approval = decision.champion_approval or {}
    by = state_approval.get("by")
    if state_approval.get("status") == change_control.NOT_REQUIRED or not by:
        rule = state_approval.get("rule", "unknown")
        return Verdict(
            False, f"champion {decision.champion} took effect without an approval (rule {rule})", Severity.WARN
        )
    return Verdict(True, f"champion {decision.champion} approved by {by}", figures={"approval": state_approval})


@monthly_asset(
    # The champion of M-1 is upstream too: the promotion log it extends and the studies tuning reuses.
    deps=[
        dg.AssetDep(features, partition_mapping=PREVIOUS_MONTH),
        dg.AssetDep(validated_applications, partition_mapping=PREVIOUS_MONTH),
        dg.AssetDep(ASSET_KEY, partition_mapping=PREVIOUS_MONTH),
    ],
    group_name="model",
    kinds={"lightgbm", "optuna", "scikit-learn"},
    check_specs=[
        *(
            monthly_check_spec(name, asset=ASSET_KEY, blocking=True, description=description)
            for name, description in MODEL_CHECKS.items()
        ),
        monthly_check_spec(CHAMPION_APPROVED, asset=ASSET_KEY, description=APPROVAL_CHECK),
    ],
    description="The champion in force that scores the month; when a trigger fires, candidates developed with the "
    "search for a less discriminatory alternative and proposed for a model_risk approval. Every version is kept "
    "in the registry, every trigger, decision and approval in the promotion log.",
)
def model(context: dg.AssetExecutionContext, config: ModelConfig, storage: StorageResource) -> Iterator:
    """Keep the champion or develop and propose candidates; log the month's decision and report it."""
    month = context.partition_key
    if month == FIRST_MONTH:
        raise Refusal(history_note(month))
    settings = to_settings(config, ModelSettings)
    try:
        decided = month_decision.decide_month(
            storage.store_reading(context, ASSET_KEY),
            month,
            settings,
            run_info(context),
            lambda: development_inputs(context, storage, settings),
        )
    except (RegistryError, MissingArtifact) as error:
        raise Refusal(str(error)) from error
    results = [check_result(verdict, name) for name, verdict in scoring_verdicts(decided).items()]
    results.append(check_result(approved_verdict(decided.decision), CHAMPION_APPROVED))
    if decided.scoring is None:
        yield from results
        raise Refusal(
            description=no_champion_text(decided),
            metadata={"promotion_log_sequence": decided.decision.sequence},
        )
    metadata = month_metadata(decided.decision, decided.plan)
    if decided.found is not None:
        metadata |= development_metadata(decided.found, decided.charts)
    metadata |= card_metadata(storage, decided.scoring)
    yield dg.MaterializeResult(check_results=results, metadata=figures(metadata))


def scoring_verdicts(decided: MonthDecision) -> dict[str, Verdict]:
    """The blocking verdicts of the model that scores the month (else of the candidate the policy preferred)."""
    decision, found, scoring = decided.decision, decided.found, decided.scoring
    if found is not None and (scoring is None or scoring.version == decision.proposed):
        judged = found.proposed or found.models.candidates[found.search.base]
        return judged.verdicts
    if found is not None and found.proposed is None:
        return not_proposed(found.models.candidates[found.search.base], scoring)
    if scoring is None:
        return {name: Verdict(False, "no champion in force") for name in MODEL_CHECKS}
    kept = kept_verdicts(decided.state.developed, scoring)
    kept[GATE] = Verdict(True, f"champion {scoring.version} kept: {decision.why}")
    return {name: kept[name] for name in MODEL_CHECKS}


def not_proposed(base: Candidate, scoring: Model) -> dict[str, Verdict]:
    """A development whose candidates all failed: their failures are reported as warnings, since the champion in force
    (which passed its own verdicts when it was approved) keeps scoring and nothing downstream needs blocking."""
    return {
        name: verdict
        if verdict.passed
        else Verdict(
            False,
            f"candidate {base.family} not proposed, {scoring.version} keeps scoring: {verdict.description}",
            Severity.WARN,
            verdict.figures,
        )
        for name, verdict in base.verdicts.items()
    }


def no_champion_text(decided: MonthDecision) -> str:
    """Why no model scores the month: nothing passed, or the first candidate still awaits its approval."""
    decision, found, month = decided.decision, decided.found, decided.decision.month
    if found is not None and found.proposed is None:
        base = found.models.candidates[found.search.base]
        return (
            f"No model for {month}: no candidate passed its blocking checks ({base.refusal()}) and none was in force."
        )
    waiting = decision.proposed or (decided.state.pending or {}).get("proposed")
    return (
        f"No champion in force for {month}: candidate {waiting} awaits approval by a {change_control.MODEL_RISK_ROLE} "
        "user (portal, Models page); once approved, the approval sensor runs the month again and it scores with it."
    )


def month_metadata(decision: MonthRecord, plan: Plan) -> dict[str, Any]:
    """The month's change-control figures: triggers, what was done, the proposal and the approvals."""
    approval = decision.approval or {}
    triggers = pd.DataFrame(plan.review()["triggers"] or [], columns=["kind", "month", "description"])
    return {
        "status": month_status(decision),
        "champion": decision.champion,
        "champion_approval": dg.MetadataValue.json(decision.champion_approval or {}),
        "developed": plan.develop,
        "why": plan.why,
        "triggers": table(triggers),
        "next_scheduled_review": plan.next_scheduled_review or "-",
        "proposed": decision.proposed or "-",
        "approval_status": approval.get("status", "-"),
        "approval_rule": decision.approval_rule,
        "promotion_log_sequence": decision.sequence,
    }


def month_status(decision: MonthRecord) -> str:
    """The month in a few words: what scores it and whether a candidate awaits approval."""
    approval = decision.approval or {}
    if decision.awaiting:
        return f"candidate awaiting approval: {decision.proposed}"
    if decision.proposed and decision.champion == decision.proposed:
        return f"new champion {decision.champion} ({approval['status']})"
    return f"champion kept: {decision.champion}"


def development_metadata(found: Development, charts: dict[str, bytes]) -> dict[str, Any]:
    """The developed candidates, the LDA search and its frontier, and the charts of the proposed candidate."""
    return {
        "lda_policy": found.search.policy,
        "lda_pick": f"{found.search.picked}: {found.search.reason}",
        "lda_frontier": table(lda.frontier_table(found.search)),
        "lda_frontier_chart": image(found.frontier_png, "LDA frontier"),
        "proxies": table(lda.proxy_table(found.search).head(10)),
        "candidates": dg.MetadataValue.json([c.summary() for c in found.models.candidates.values()]),
        "roc_curve": image(charts["roc.png"], "ROC"),
        "reliability": image(charts["reliability.png"], "reliability"),
        "feature_importance": image(charts["importance.png"], "importance"),
    }


def card_metadata(storage: StorageResource, scoring: Model) -> dict[str, Any]:
    """The card of the model that scores the month."""
    card = scoring.card
    return {
        "model_version": card.version,
        "family": card.family,
        "developed_for": card.month,
        **{f"validation_{name}": value for name, value in card.validation_metrics.items()},
        "calibration_method": card.calibration.method,
        "ece_before": card.calibration.ece_before,
        "ece_after": card.calibration.ece_after,
        "train_months": ", ".join(card.window.train_months),
        "validation_months": ", ".join(card.window.validation_months),
        "train_rows": card.window.train_rows,
        "validation_rows": card.window.validation_rows,
        "validation_defaults": card.window.validation_defaults,
        "validation_slice_sufficient": card.window.validation_sufficient,
        "validation_metrics_of": "the fit on the training rows before the refit (out of time)"
        if card.window.refit
        else "the deployed model (out of time)",
        "refit_on_all_labels": card.window.refit_on_all_labels,
        "deployed_train_months": ", ".join(card.window.deployed_months),
        "deployed_train_rows": card.window.deployed_train_rows,
        "deployed_train_defaults": card.window.deployed_train_defaults,
        "best_iteration": card.best_iteration,
        "feature_count": len(card.features),
        "params": dg.MetadataValue.json(card.params),
        "registry_folder": dg.MetadataValue.path(storage.registry.location(card.version)),
        "documentation": dg.MetadataValue.path(storage.store.documentation_location(card.version)),
    }
