"""One month's models end to end: the LightGBM and the scorecard on the same window, calibrated, judged and ranked.

Both candidates train on the same labelled rows, stop or calibrate on the same out-of-time validation slice and
face the same blocking verdicts (the gate against the previous champion, no protected input, declared risk
directions). Unless the settings say otherwise, each is then refit on every labelled row with what the slice
chose (LightGBM: its parameters and early-stopped number of trees; scorecard: its characteristics) and the refit
model is deployed with the slice's calibrator: the validation figures stay the out-of-time estimate of the fit
before the refit, while the verdicts on the model itself judge the deployed one. The promotion rule then names
the champion; the other is the month's challenger in shadow.

`develop` adds the documented search for a less discriminatory alternative (lda.py) around the candidate the
promotion rule prefers: LightGBM alternatives with the month's tuned parameters (without the strongest proxies,
under the other monotone setting) face the same verdicts, and the search's policy proposes one of the models.
"""

from dataclasses import dataclass, replace
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.special import expit

from credit_assets.core.contract import schema
from credit_assets.core.economics import EconomicsSettings
from credit_assets.core.features import feature_names
from credit_assets.core.modeling import compliance, lda, scorecard
from credit_assets.core.modeling.calibration import calibrate
from credit_assets.core.modeling.card import ModelCard, TrainingWindow
from credit_assets.core.modeling.gate import PreviousModel, compare_aucs, gate
from credit_assets.core.modeling.models import LightGBMScorer, Model, ScorecardScorer, Scorer
from credit_assets.core.modeling.registry import content_version
from credit_assets.core.modeling.settings import ModelSettings
from credit_assets.core.modeling.training import (
    BASE_PARAMS,
    TrainingData,
    fit,
    fit_with_selection,
    importance_table,
    metrics,
    refit,
)
from credit_assets.core.modeling.tuning import choose_params
from credit_assets.core.scoring import Cutoffs
from credit_assets.core.verdict import Verdict

IMPORTANCE_ROWS_KEPT = 30
GATE, NO_PROTECTED_INPUTS, DECLARED_DIRECTIONS = "champion_gate", "no_protected_inputs", "declared_directions_hold"
BEST_VALIDATION_AUC = "best_validation_auc"


@dataclass(frozen=True)
class Candidate:
    """A trained, calibrated model of the month with its blocking verdicts and validation predictions."""

    model: Model
    verdicts: dict[str, Verdict]  # the model may be champion only if all pass
    validation_raw: np.ndarray
    validation_calibrated: np.ndarray
    validated: Scorer  # the fit the validation figures are of (before the refit, when there is one)

    @property
    def family(self) -> str:
        return self.model.card.family

    @property
    def passed(self) -> bool:
        return all(verdict.passed for verdict in self.verdicts.values())

    def refusal(self) -> str:
        """Why the model may not be champion: every failed verdict."""
        return "; ".join(f"{name}: {v.description}" for name, v in self.verdicts.items() if not v.passed)

    def summary(self) -> dict[str, Any]:
        """What the promotion log and the comparison record of a candidate."""
        return {
            "version": self.model.version,
            "family": self.family,
            "validation_metrics": self.model.card.validation_metrics,
            "calibration": self.model.card.calibration.to_dict(),
            "verdicts": {name: {"passed": v.passed, "description": v.description} for name, v in self.verdicts.items()},
        }


@dataclass(frozen=True)
class MonthModels:
    """The month's candidates, its validation labels and the previous champion's score on the same slice."""

    candidates: dict[str, Candidate]
    validation_labels: pd.Series
    previous: PreviousModel | None


def unseen_rows(window: TrainingWindow, data: TrainingData) -> np.ndarray:
    """The validation rows a model with this card's window did not train on: those of months after its deployed
    months when it was refit, else those from its own validation slice on (months in order, IDs ascending)."""
    if data.validation_row_months is None:
        return np.ones(len(data.validation), dtype=bool)
    months = data.validation_row_months
    if window.refit:
        return months > max(window.deployed_months)
    first_month, first_id = window.validation_months[0], window.validation_first_id
    ids = data.validation[schema.ID_COLUMN].to_numpy()
    return (months > first_month) | ((months == first_month) & (ids >= first_id))


def score_previous(previous: Model | None, data: TrainingData) -> PreviousModel | None:
    """The previous month's champion's AUC on the rows of this month's validation slice it did not train on."""
    if previous is None:
        return None
    rows = unseen_rows(previous.card.window, data)
    if not rows.any():
        return PreviousModel(previous.version, None, rows, np.empty(0))
    fresh = data.validation[rows]
    probabilities = previous.raw_probability(fresh)
    return PreviousModel(
        previous.version, metrics(fresh[schema.TARGET_COLUMN], probabilities)["roc_auc"], rows, probabilities
    )


def judged(
    validated: Scorer,
    deployed: Scorer,
    card: ModelCard,
    data: TrainingData,
    settings: ModelSettings,
    previous: PreviousModel | None,
) -> Candidate:
    """Calibrate on the validation slice and record the metrics of the `validated` fit, then judge the `deployed`
    model (the same one, or its refit on every labelled row) with that calibrator against every blocking verdict."""
    labels = data.validation[schema.TARGET_COLUMN]
    raw = expit(validated.log_odds(data.validation))
    calibrator, report = calibrate(labels, raw)
    scores = metrics(labels, raw)
    compared = None
    if previous is not None and previous.rows.any():
        compared = compare_aucs(labels.to_numpy()[previous.rows], raw[previous.rows], previous.probabilities)
    card = replace(card, validation_metrics=scores, calibration=report)
    verdicts = {
        GATE: gate(settings, scores["roc_auc"], previous, compared),
        NO_PROTECTED_INPUTS: compliance.protected_inputs(deployed.feature_name()),
        DECLARED_DIRECTIONS: compliance.declared_directions_hold(deployed, data.validation),
    }
    return Candidate(Model(deployed, calibrator, card), verdicts, raw, calibrator.apply(raw), validated)


def card_for(month: str, data: TrainingData, settings: ModelSettings, family: str, **details: Any) -> ModelCard:
    """A candidate's card before validation: the shared window and seed plus the family's own details."""
    return ModelCard(
        month=month,
        family=family,
        window=data.window(settings.refit_on_all_labels),
        seed=settings.seed,
        num_threads=settings.num_threads,
        validation_metrics={},
        **details,
    )


def lightgbm_candidate(
    month: str, data: TrainingData, settings: ModelSettings, study_url: str, previous: PreviousModel | None
) -> tuple[Candidate, pd.DataFrame]:
    """Tune when due, fit with early stopping, refit if asked, calibrate and judge; also returns every feature's
    gain (of the fit the slice stopped)."""
    params, provenance = choose_params(settings, study_url, month, data, feature_names())
    booster, importance = fit_with_selection(data, params, settings)
    params = {**BASE_PARAMS, **params}
    return judged_lightgbm(month, data, settings, booster, params, provenance, importance, previous), importance


def judged_lightgbm(
    month: str,
    data: TrainingData,
    settings: ModelSettings,
    booster: lgb.Booster,
    params: dict[str, Any],
    provenance: dict[str, Any],
    importance: pd.DataFrame,
    previous: PreviousModel | None,
) -> Candidate:
    """An early-stopped LightGBM fit refit if asked, carded and judged: the tuned candidate's path after its fit,
    which the LDA search's alternatives take too."""
    deployed = booster
    if settings.refit_on_all_labels:
        deployed = refit(data, booster.feature_name(), params, settings, booster.best_iteration)
    card = card_for(
        month,
        data,
        settings,
        "lightgbm",
        params=params,
        params_provenance=provenance,
        best_iteration=booster.best_iteration,
        features=deployed.feature_name(),
        importance=importance.head(IMPORTANCE_ROWS_KEPT).to_dict(orient="records"),
    )
    return judged(LightGBMScorer(booster), LightGBMScorer(deployed), card, data, settings, previous)


def lightgbm_alternative(
    month: str,
    data: TrainingData,
    settings: ModelSettings,
    lightgbm: Candidate,
    variant: lda.Variant,
    previous: PreviousModel | None,
) -> Candidate:
    """The month's LightGBM parameters (no new tuning) without the variant's inputs or under its monotone setting:
    early-stopped on the slice, refit if asked, calibrated and judged like the LightGBM candidate."""
    card = lightgbm.model.card
    features = [name for name in card.features if name not in variant.features_removed]
    chosen = replace(settings, monotone=variant.monotone)
    booster = fit(data, features, card.params, chosen)
    provenance = {**card.params_provenance, "lda_alternative": variant.description}
    return judged_lightgbm(month, data, chosen, booster, card.params, provenance, importance_table(booster), previous)


def scorecard_candidate(
    month: str, data: TrainingData, settings: ModelSettings, importance: pd.DataFrame, previous: PreviousModel | None
) -> Candidate:
    """The scorecard on the LightGBM's top features by gain, fitted on the same training rows (and refit on every
    labelled row when the LightGBM is)."""
    names = importance.loc[importance["gain"] > 0, "feature"].head(settings.scorecard_characteristics).tolist()
    _, validated = scorecard.fit_scorecard(data.train, names, settings.seed, settings.num_threads)
    table = validated
    if settings.refit_on_all_labels:
        _, table = scorecard.fit_scorecard(data.labelled, names, settings.seed, settings.num_threads)
    spread = [{"feature": item.name, "gain": max(item.points) - min(item.points)} for item in table.characteristics]
    card = card_for(
        month,
        data,
        settings,
        scorecard.FAMILY,
        params={"pdo": scorecard.PDO, "odds": scorecard.ODDS, "base_points": scorecard.BASE_POINTS},
        params_provenance={
            "source": "optbinning monotonic WoE binning + logistic regression",
            "characteristics": f"the LightGBM's top {settings.scorecard_characteristics} features by gain",
        },
        best_iteration=0,
        features=table.feature_name(),
        importance=sorted(spread, key=lambda row: (-row["gain"], row["feature"])),
    )
    return judged(ScorecardScorer(validated), ScorecardScorer(table), card, data, settings, previous)


def train_month_models(
    month: str, data: TrainingData, settings: ModelSettings, study_url: str, previous: Model | None
) -> MonthModels:
    """Train both candidates on the month's window and judge each against the previous champion."""
    earlier = score_previous(previous, data)
    lightgbm, importance = lightgbm_candidate(month, data, settings, study_url, earlier)
    points = scorecard_candidate(month, data, settings, importance, earlier)
    candidates = {lightgbm.family: lightgbm, points.family: points}
    return MonthModels(candidates, data.validation[schema.TARGET_COLUMN], earlier)


def choose_champion(rule: str, candidates: dict[str, Candidate]) -> Candidate | None:
    """The named family if it passes, or the passing candidate with the best validation AUC; None if none may be."""
    if rule != BEST_VALIDATION_AUC:
        return candidates[rule] if candidates[rule].passed else None
    passing = [c for c in candidates.values() if c.passed]
    return max(passing, key=lambda c: (c.model.card.validation_metrics["roc_auc"] or 0.0, c.family), default=None)


def judged_for_checks(rule: str, candidates: dict[str, Candidate], champion: Candidate | None) -> Candidate:
    """Whose verdicts the model asset's checks report: the champion, else the candidate the rule prefers."""
    if champion is not None:
        return champion
    if rule != BEST_VALIDATION_AUC:
        return candidates[rule]
    return max(candidates.values(), key=lambda c: (c.model.card.validation_metrics["roc_auc"] or 0.0, c.family))


@dataclass(frozen=True)
class Development:
    """A month's development: its candidates (the two families and the LDA alternatives, by name), the documented
    search with its frontier chart, and the model the search proposes (None when none may be)."""

    models: MonthModels
    search: lda.LdaSearch
    frontier_png: bytes
    proposed: Candidate | None
    champion_air: dict[str, float | None] | None = None  # the champion in force's AIRs on the same slice


def developed_variants(settings: ModelSettings) -> dict[str, lda.Variant]:
    """The two families as the LDA search names them."""
    return {
        "lightgbm": lda.Variant("lightgbm", "the month's LightGBM as developed", (), settings.monotone),
        # the scorecard's binning follows the declared directions whatever the settings say
        scorecard.FAMILY: lda.Variant(scorecard.FAMILY, "the month's scorecard as developed", (), True),
    }


def develop(
    month: str,
    data: TrainingData,
    protected: pd.DataFrame,
    settings: ModelSettings,
    study_url: str,
    previous: Model | None,
    cutoffs: Cutoffs | None = None,
    economics: EconomicsSettings | None = None,
) -> Development:
    """Train both families, search for a less discriminatory alternative around the one the promotion rule prefers
    and propose one. `protected`: SK_ID_CURR, CODE_GENDER, DAYS_BIRTH, NAME_FAMILY_STATUS of the validation rows,
    joined on SK_ID_CURR and used only to measure the alternatives' disparities. The cut-offs and economics are the
    forecasts' and decision economics' defaults unless given."""
    cutoffs, economics = cutoffs or Cutoffs(), economics or EconomicsSettings()
    developed = train_month_models(month, data, settings, study_url, previous)
    families = developed.candidates
    base = judged_for_checks(settings.promotion_rule, families, choose_champion(settings.promotion_rule, families))
    frame = lda.slice_frame(data.validation, protected)
    analysis = lda.proxy_analysis(
        month,
        base.validated,
        base.model.calibrator,
        base.model.card.top_features(lda.PROXY_FEATURES),
        data.validation,
        frame,
        cutoffs.review_cutoff,
    )
    # lda_proxies + 1 LightGBM fits with the tuned parameters, weighed out of time like the families' validated fits;
    # only the one proposed is then refit on every labelled row (when the settings say so), not all of them
    variants = lda.model_variants(analysis.strongest(settings.lda_proxies), settings.monotone)
    weighed = replace(settings, refit_on_all_labels=False)
    alternatives = {
        v.name: lightgbm_alternative(month, data, weighed, families["lightgbm"], v, developed.previous)
        for v in variants
    }
    named = {**developed_variants(settings), **{v.name: v for v in variants}}
    candidates = {**families, **alternatives}
    options = [lda.Option(named[n], c.model, c.passed, c.validation_calibrated) for n, c in candidates.items()]
    search = lda.search(month, options, base.family, analysis, frame, settings, cutoffs, economics)
    if search.picked in alternatives and settings.refit_on_all_labels:
        deployed = lightgbm_alternative(
            month, data, settings, families["lightgbm"], named[search.picked], developed.previous
        )
        candidates[search.picked] = deployed
        search = replace(search, picked_version=content_version(deployed.family, deployed.model.files()))
    proposed = candidates[search.picked] if search.picked else None
    champion_air = None
    if previous is not None:  # what an automatic approval compares the proposal's AIRs with
        champion_air = lda.group_airs(
            lda.assessed(month, frame, previous.predict(data.validation), cutoffs.review_cutoff)
        )
    models = replace(developed, candidates=candidates)
    return Development(models, search, lda.frontier_png(search), proposed, champion_air)
