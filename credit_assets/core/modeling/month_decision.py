"""A month's model decision, once for the model asset and the plain baseline: the champion in force, the plan (keep
it or develop), the development with its registered candidates and LDA search, the promotion log's record of the
month and the model that scores it."""

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from credit_assets.core.contract import schema
from credit_assets.core.databases import studies_url
from credit_assets.core.modeling import change_control, lda
from credit_assets.core.modeling.change_control import ChampionState, MonthRecord, Plan
from credit_assets.core.modeling.charts import model_charts
from credit_assets.core.modeling.models import Model
from credit_assets.core.modeling.month_model import GATE, Development, MonthModels, develop
from credit_assets.core.modeling.registry import ModelRegistry
from credit_assets.core.modeling.settings import ModelSettings
from credit_assets.core.modeling.training import TrainingData, training_data
from credit_assets.core.store import ArtifactStore

MODEL_ASSET, FEATURES_TABLE, VALIDATED_TABLE = "model", "features", "validated_applications"
LDA_FILE, FRONTIER_FILE = "lda.json", "lda_frontier.png"
# what the LDA search joins to the validation slice's decisions by ID (protected attributes never enter a model)
PROTECTED_COLUMNS = [schema.ID_COLUMN, *lda.PROTECTED_COLUMNS]


@dataclass(frozen=True)
class RunInfo:
    """The run that decides: its ID, the orchestrator's tags and the user who asked for it, if any."""

    run_id: str
    tags: dict[str, str]
    requested_by: list[str]


@dataclass(frozen=True)
class DevelopmentInputs:
    """What a development reads from other assets: the training window and the validation slice's protected
    attributes (read by the caller, which knows where they come from)."""

    data: TrainingData
    protected: pd.DataFrame


@dataclass(frozen=True)
class MonthDecision:
    """The month as decided: the state it saw, its plan, the development if any (its new versions and the charts of
    the candidate it shows), the promotion log's record and the model that scores the month (None when no
    champion is in force)."""

    state: ChampionState
    plan: Plan
    found: Development | None
    new: set[str]
    charts: dict[str, bytes]
    decision: MonthRecord
    scoring: Model | None


def trained_until(version: Model) -> str:
    """The newest month whose labels the version's deployed model learned from."""
    return max(version.card.window.deployed_months)


def registered(registry: ModelRegistry, trained: MonthModels) -> tuple[MonthModels, set[str]]:
    """Every candidate stored in the registry (a model already there is left as it is); the new versions."""
    candidates, new = {}, set()
    for name, candidate in trained.candidates.items():
        model, added = registry.register(candidate.model)
        candidates[name] = replace(candidate, model=model)
        new |= {model.version} if added else set()
    return replace(trained, candidates=candidates), new


def developed(
    store: ArtifactStore, month: str, inputs: DevelopmentInputs, settings: ModelSettings, champion: Model | None
) -> tuple[Development, set[str], dict[str, bytes]]:
    """Train the month's candidates and alternatives, register them, store the LDA search and its frontier and the
    charts of the proposed candidate (else of the base the search started from)."""
    found = develop(month, inputs.data, inputs.protected, settings, studies_url(store), champion)
    models, new = registered(ModelRegistry(store.blobs), found.models)
    store.write_report(MODEL_ASSET, month, LDA_FILE, found.search.to_dict())
    proposed = models.candidates[found.search.picked] if found.search.picked else None
    shown = proposed or models.candidates[found.search.base]
    charts = model_charts(shown.model.card, models.validation_labels, shown.validation_raw, shown.validation_calibrated)
    store.write_report_files(MODEL_ASSET, month, {FRONTIER_FILE: found.frontier_png, **charts})
    return replace(found, models=models, proposed=proposed), new, charts


def approval_of(settings: ModelSettings, found: Development, champion: Model | None) -> dict[str, Any] | None:
    """The proposed candidate's approval status under the configured rule (None when nothing was proposed)."""
    if found.proposed is None:
        return None
    limits = None
    if champion is not None:
        gate = found.proposed.verdicts[GATE].figures
        limits = change_control.within_limits(
            found.proposed.model.card.features,
            champion.card.features,
            gate.get("auc_on_compared_rows"),
            gate.get("previous_model_auc"),
            lda.picked_air(found.search),
            found.champion_air or {},
        )
    return change_control.approval_status(settings, limits)


def kept_candidates(state: ChampionState) -> list[dict[str, Any]]:
    """A month without development records the champion's and the awaiting candidate's summaries as they were."""
    wanted = {state.champion: state.developed, (state.pending or {}).get("proposed"): state.pending}
    return [
        {**candidate, "new_version": False}
        for version, entry in wanted.items()
        if version and entry
        for candidate in entry["candidates"]
        if candidate["version"] == version
    ]


def month_entry(
    month: str,
    run: RunInfo,
    settings: ModelSettings,
    state: ChampionState,
    plan: Plan,
    found: Development | None,
    new: set[str],
    champion: Model | None,
) -> dict[str, Any]:
    """The promotion log's record of the month: triggers, development, proposal, approval and the champion."""
    approval = approval_of(settings, found, champion) if found else None
    proposed = found.proposed.model.version if found and found.proposed else None
    takes_effect = approval is not None and approval["status"] != change_control.AWAITING
    developed_now = [
        {**c.summary(), "name": name, "new_version": c.model.version in new}
        for name, c in (found.models.candidates.items() if found else [])
    ]
    # the champion in force is always on the list: the shadow comparison and the packs put it beside the candidates
    shown = {c["version"] for c in developed_now}
    candidates = developed_now + [c for c in kept_candidates(state) if c["version"] not in shown]
    champion_after = proposed if takes_effect else state.champion
    return {
        "kind": change_control.MONTH,
        "month": month,
        "champion": champion_after,
        "rule": settings.promotion_rule,
        "approval_rule": settings.approval,
        "candidates": candidates,
        "previous_champion": state.champion,
        "review": plan.review(),
        "proposed": proposed,
        "approval": approval,
        "lda": lda.log_summary(found.search) if found else None,
        "requested_by": run.requested_by,
        "trigger": {"run_id": run.run_id, "tags": run.tags},
        "decided_at": datetime.now(UTC).isoformat(timespec="seconds"),
        # how the champion that scores the month became champion
        "champion_approval": approval if champion_after is not None and champion_after == proposed else state.approval,
    }


def stored_inputs(store: ArtifactStore, month: str, settings: ModelSettings) -> DevelopmentInputs:
    """The development's inputs read straight from the store's feature and validated tables."""
    load = functools.partial(store.read_table, FEATURES_TABLE)
    data = training_data(store.table_months(FEATURES_TABLE), load, month, settings)
    protected = [store.read_table(VALIDATED_TABLE, key, PROTECTED_COLUMNS) for key in data.validation_months]
    return DevelopmentInputs(data, pd.concat(protected, ignore_index=True))


def decide_month(
    store: ArtifactStore,
    month: str,
    settings: ModelSettings,
    run: RunInfo,
    development_inputs: Callable[[], DevelopmentInputs] | None = None,
) -> MonthDecision:
    """Keep the champion in force or develop and propose candidates; append the month's decision to the promotion
    log and load the model that scores the month. A month that develops reads its inputs with `development_inputs`
    (a caller that checks where its reads come from), else straight from the store."""
    read_inputs = development_inputs or functools.partial(stored_inputs, store, month, settings)
    registry = ModelRegistry(store.blobs)
    entries = registry.promotions()
    # each version is read (and its hashes checked) once, though both the month's state and the scoring need it
    load = functools.cache(registry.load)
    state = change_control.in_force_for(
        month, entries, change_control.fold(entries), lambda version: trained_until(load(version))
    )
    plan = change_control.plan_month(month, state, settings)
    champion = load(state.champion) if state.champion else None
    found, new, charts = (
        developed(store, month, read_inputs(), settings, champion) if plan.develop else (None, set(), {})
    )
    decision = MonthRecord.of(registry.append(month_entry(month, run, settings, state, plan, found, new, champion)))
    scoring = load(decision.champion) if decision.champion else None
    return MonthDecision(state, plan, found, new, charts, decision, scoring)
