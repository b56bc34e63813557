"""A storage root whose promotion log holds a champion approved by a model_risk user and a candidate awaiting
approval, each a real (tiny) LightGBM model in the registry, with the LDA search's summary, frontier chart and
documentation pack a development month stores. No Dagster run: the entries are appended as the model step would."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import matplotlib
import numpy as np
import pandas as pd

from credit_assets.core.blobs import write_text
from credit_assets.core.modeling import change_control as cc
from credit_assets.core.modeling.calibration import CalibrationReport, Calibrator
from credit_assets.core.modeling.card import ModelCard, TrainingWindow
from credit_assets.core.modeling.models import LightGBMScorer, Model
from credit_assets.core.modeling.registry import ModelRegistry
from credit_assets.core.store import ArtifactStore
from credit_assets.portal import models
from credit_assets_tests.support.files import write_json

matplotlib.use("Agg")
FEATURES = ["EXT_SOURCE_2", "EXT_SOURCE_3", "AMT_ANNUITY"]
CHAMPION_MONTH, CANDIDATE_MONTH = "2020-10", "2020-12"
DEVELOPER, FIRST_APPROVER = "dana", "quinn"  # who asked for the developments, who approved the first champion


@dataclass(frozen=True)
class PreparedModels:
    store: ArtifactStore
    champion: str
    candidate: str
    candidate_month: str


def tiny_model(month: str, seed: int, auc: float) -> Model:
    """A real LightGBM of a few trees on random rows: stored, hashed and loaded like any other version."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(300, len(FEATURES))), columns=FEATURES)
    labels = (frame["EXT_SOURCE_2"] + rng.normal(size=300) < -1).astype(int)
    booster = lgb.train(
        {"objective": "binary", "num_threads": 1, "verbose": -1, "seed": seed, "min_data_in_leaf": 20},
        lgb.Dataset(frame, label=labels),
        num_boost_round=5,
    )
    calibration = CalibrationReport("sigmoid", 150, {"none": 0.3, "sigmoid": 0.29}, 0.041, 0.012, 0.3, 0.29)
    window = TrainingWindow([month], [month], 150, 150, 12, 1, 500, 0.5, False, "a" * 64, "b" * 64)
    card = ModelCard(month, "lightgbm", window, {}, {}, seed, 1, 5, FEATURES, {"roc_auc": auc}, [], calibration)
    return Model(LightGBMScorer(booster), Calibrator(), card)


def lda_summary(profit: float, air: float) -> dict[str, Any]:
    """An LDA search's summary: the policy, its pick and reason, the picked AIRs and the frontier table."""
    columns = ("name", "validation_auc", "profit", "approval_rate", "worst_air")
    frontier = [
        dict(zip(columns, ("base", 0.741, profit * 1.01, 0.62, air - 0.06), strict=True)),
        dict(zip(columns, ("drop AMT_ANNUITY", 0.738, profit, 0.63, air), strict=True)),
    ]
    return {
        "policy": "the least discriminatory alternative within 0.005 AUC and 2 % profit of the base candidate",
        "picked": "drop AMT_ANNUITY",
        "reason": "its worst adverse impact ratio is the highest within the tolerances",
        "picked_air": {"CODE_GENDER:F": air, "AGE_BAND:<25": air + 0.05},
        "frontier": frontier,
    }


def _candidate(model: Model, passed: bool = True) -> dict[str, Any]:
    verdicts = {
        "auc_not_lower": {"passed": passed, "description": "validation AUC not lower than the champion's"},
        "calibrated": {"passed": True, "description": "ECE after calibration below 0.02"},
    }
    card = model.card
    return {
        "version": model.version,
        "family": card.family,
        "name": "drop AMT_ANNUITY",
        "validation_metrics": {**card.validation_metrics, "brier": 0.061},
        "calibration": card.calibration.to_dict(),
        "verdicts": verdicts,
        "new_version": True,
    }


def month_entry(month: str, champion: str | None, proposed: Model, triggers: list[dict], air: float) -> dict:
    """A development month's decision proposing `proposed` (awaiting approval) while `champion` scores the month."""
    why = "developed: " + ", ".join(t["kind"] for t in triggers)
    return {
        "kind": cc.MONTH,
        "month": month,
        "champion": champion,
        "proposed": proposed.version,
        "approval": {"status": cc.AWAITING, "rule": "model_risk", "by": None, "reason": "awaits a model_risk approval"},
        "review": {"triggers": triggers, "developed": True, "why": why, "next_scheduled_review": None},
        "candidates": [_candidate(proposed)],
        "lda": lda_summary(120_000.0 if champion else 100_000.0, air),
        "requested_by": [DEVELOPER],
        "champion_approval": None,
        "decided_at": f"{month}-28T06:00:00+00:00",
    }


def _frontier_chart(path: Path, air: float) -> None:
    """A frontier chart as the model step draws one: AUC against the worst AIR of each alternative."""
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5, 3))
    axes.plot([air - 0.06, air], [0.741, 0.738], "o-")
    axes.set(xlabel="worst adverse impact ratio", ylabel="validation AUC", title="LDA frontier")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80)
    plt.close(figure)


def _stored_search(store: ArtifactStore, month: str, entry: dict[str, Any], version: str, air: float) -> None:
    folder = store.local_root.joinpath("artifacts", models.MODEL_ASSET, month)
    write_json(folder / models.LDA_FILE, entry["lda"])
    _frontier_chart(folder / models.FRONTIER_FILE, air)
    write_text(
        store.local_root.joinpath("documentation", f"{version}.html"),
        f"<!doctype html><title>{version}</title><h1>{version}</h1>",
    )


def prepare_models_root(root: Path) -> PreparedModels:
    """Champion A developed for CHAMPION_MONTH and approved by FIRST_APPROVER; an AUC-decay trigger; candidate B
    developed for CANDIDATE_MONTH awaiting approval while A scores."""
    store = ArtifactStore.at(root)
    registry = ModelRegistry(store.blobs)
    champion, _ = registry.register(tiny_model(CHAMPION_MONTH, 1, 0.731))
    candidate, _ = registry.register(tiny_model(CANDIDATE_MONTH, 2, 0.744))
    first = month_entry(CHAMPION_MONTH, None, champion, [_trigger("no_champion", CHAMPION_MONTH, {})], 0.86)
    registry.append(first)
    _stored_search(store, CHAMPION_MONTH, first, champion.version, 0.86)
    registry.decide(
        champion.version,
        cc.APPROVE,
        FIRST_APPROVER,
        cc.MODEL_RISK_ROLE,
        "first champion: validation and LDA search reviewed",
    )
    decay = _trigger("auc_decay", "2020-11", {"forecast_auc": 0.69, "validation_auc": 0.731, "p_value": 0.01})
    registry.append(
        {"kind": cc.TRIGGER, "month": "2020-11", "triggers": [decay], "recorded_at": "2020-11-29T06:00:00+00:00"}
    )
    second = month_entry(CANDIDATE_MONTH, champion.version, candidate, [decay], 0.91)
    registry.append(second)
    _stored_search(store, CANDIDATE_MONTH, second, candidate.version, 0.91)
    return PreparedModels(store, champion.version, candidate.version, CANDIDATE_MONTH)


def _trigger(kind: str, month: str, evidence: dict[str, Any]) -> dict[str, Any]:
    return {"kind": kind, "month": month, "description": f"{kind} in {month}", "evidence": evidence}
