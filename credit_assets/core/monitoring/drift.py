"""Drift: how far month M has moved from the data its own model was trained on.

The reference is the model's window as its card states it (train + validation feature months). Per feature:
the population stability index over the reference's deciles (levels for categoricals; missing values are a
bin of their own) and the two-sample KS statistic, both from a seeded sample of at most 50,000 of the
window's rows; for the model's output: the PSI of this month's forecasts against the stored model's
predictions on its validation slice. The checks judge the model's most important features (by gain, from
the card) and the predictions with the thresholds the asset ran with.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from credit_assets.core import plots
from credit_assets.core.contract import schema
from credit_assets.core.modeling.card import ModelCard, TrainingWindow
from credit_assets.core.modeling.models import Model
from credit_assets.core.modeling.training import FeatureLoader, frame_hash, split_out_of_time
from credit_assets.core.records import JsonRecord
from credit_assets.core.verdict import Severity, Verdict

PSI_BINS = 10
# Deciles and KS come from a seeded sample of the model's data: 50,000 rows put every decile's share within
# about 0.3 points of the whole window's, and the cost stops growing with the history.
REFERENCE_SAMPLE_ROWS, REFERENCE_SAMPLE_SEED = 50_000, 0
PSI_EPSILON = 1e-4  # share floor for empty bins, so the logarithm stays finite
PROBABILITY = "default_probability"


@dataclass(frozen=True)
class DriftSettings:
    """PSI limits (warning, error) and how many of the model's most important features the checks judge."""

    warn_psi: float = 0.1
    error_psi: float = 0.25
    top_features: int = 10


@dataclass(frozen=True)
class Drift(JsonRecord):
    """A month's drift against its model's own data, with the thresholds it is judged by."""

    month: str
    model_version: str
    reference_months: list[str]
    reference_rows: int
    reference_sample_rows: int  # the rows the deciles and KS statistics came from
    validation_slice_matches_card: bool
    month_rows: int
    thresholds: dict[str, float]
    top_features: list[str]
    features: list[dict[str, Any]]
    probability_psi: float
    label_rate: float | None
    reference_label_rate: float | None


@dataclass(frozen=True)
class Reference:
    """The model's own data: every train and validation row, and the validation slice alone."""

    months: list[str]
    rows: pd.DataFrame
    validation: pd.DataFrame


@dataclass(frozen=True)
class Observed:
    """A numeric sample as its observed values sorted once (for deciles, bin counts and KS) and its missing count."""

    values: np.ndarray
    missing: int

    @classmethod
    def of(cls, sample: pd.Series) -> "Observed":
        values = sample.to_numpy(dtype="float64", na_value=np.nan)
        observed = values[~np.isnan(values)]
        return cls(np.sort(observed), values.size - observed.size)

    def bin_counts(self, edges: np.ndarray) -> np.ndarray:
        """Values per bin [edge i-1, edge i) of the edges, missing values last."""
        below = np.searchsorted(self.values, edges, side="left")
        return np.diff(np.concatenate([[0], below, [self.values.size, self.values.size + self.missing]]))


def _shares(counts: np.ndarray) -> np.ndarray:
    return np.clip(counts / max(counts.sum(), 1), PSI_EPSILON, None)


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    expected, actual = _shares(expected), _shares(actual)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def numeric_psi(reference: Observed, values: Observed) -> float:
    """PSI over the reference's deciles, missing values a bin of their own."""
    deciles = np.quantile(reference.values, np.linspace(0, 1, PSI_BINS + 1)[1:-1]) if reference.values.size else []
    edges = np.unique(deciles)
    return _psi(reference.bin_counts(edges), values.bin_counts(edges))


def categorical_psi(reference: pd.Series, values: pd.Series) -> float:
    """PSI over the reference's levels, missing values a bin of their own."""
    levels = reference.cat.categories
    bins = len(levels) + 1
    codes = (pd.Categorical(s, categories=levels).codes.astype("int64") for s in (reference, values))
    return _psi(*(np.bincount(np.where(c < 0, bins - 1, c), minlength=bins) for c in codes))


def numeric_ks(reference: Observed, values: Observed) -> tuple[float | None, float | None]:
    """Two-sample KS statistic and its asymptotic p-value; None when a side has no observed value. The statistic
    is scipy's `ks_2samp`'s; the p-value is the Kolmogorov distribution's at the effective sample size (no exact
    computation: it informs, the checks judge PSI)."""
    ref, new = reference.values, values.values
    if not ref.size or not new.size:
        return None, None
    pooled = np.sort(np.concatenate([ref, new]))
    cdf_ref, cdf_new = (np.searchsorted(side, pooled, side="right") / side.size for side in (ref, new))
    statistic = float(np.abs(cdf_ref - cdf_new).max())
    effective_size = ref.size * new.size / (ref.size + new.size)
    return statistic, float(stats.kstwobign.sf(statistic * np.sqrt(effective_size)))


def model_reference(window: TrainingWindow, load: FeatureLoader) -> Reference:
    """The feature months of a model card's window, with the validation slice the model was judged on."""
    months = sorted(set(window.train_months) | set(window.validation_months))
    frames = {month: load(month, None) for month in months}
    data = split_out_of_time(frames, window.min_validation_defaults, window.max_validation_share)
    return Reference(months, pd.concat([data.train, data.validation], ignore_index=True), data.validation)


def reference_sample(rows: pd.DataFrame) -> pd.DataFrame:
    """At most REFERENCE_SAMPLE_ROWS of the model's rows, the same ones every time for the same window."""
    if len(rows) <= REFERENCE_SAMPLE_ROWS:
        return rows
    return rows.sample(n=REFERENCE_SAMPLE_ROWS, random_state=REFERENCE_SAMPLE_SEED)


def label_rate(frame: pd.DataFrame) -> float | None:
    """The share of defaults, or None unless every row is labelled."""
    labels = frame[schema.TARGET_COLUMN]
    return float(labels.mean()) if len(labels) and labels.notna().all() else None


def figures(reference: pd.Series, values: pd.Series) -> tuple[float, float | None, float | None]:
    """PSI, KS statistic and KS p-value of `values` against `reference`, each sample sorted once (no KS for
    categoricals)."""
    if isinstance(reference.dtype, pd.CategoricalDtype):
        return categorical_psi(reference, values), None, None
    observed_reference, observed_values = Observed.of(reference), Observed.of(values)
    return numeric_psi(observed_reference, observed_values), *numeric_ks(observed_reference, observed_values)


def psi(reference: pd.Series, values: pd.Series) -> float:
    """Population stability index of `values` against `reference`."""
    return figures(reference, values)[0]


def ks(reference: pd.Series, values: pd.Series) -> tuple[float | None, float | None]:
    """Two-sample KS statistic and p-value on the observed values; None for categoricals or an empty side."""
    return figures(reference, values)[1:]


def feature_drift(reference: pd.DataFrame, month: pd.DataFrame, card: ModelCard) -> list[dict[str, Any]]:
    """PSI, KS and importance rank of every model feature, highest PSI first."""
    ranks = {item["feature"]: rank for rank, item in enumerate(card.importance, start=1)}
    rows = []
    for name in card.features:
        stability, statistic, pvalue = figures(reference[name], month[name])
        rows.append(
            {
                "feature": name,
                "psi": round(stability, 6),
                "ks": None if statistic is None else round(statistic, 6),
                "ks_pvalue": pvalue,
                "importance_rank": ranks.get(name),
            }
        )
    return sorted(rows, key=lambda row: (-row["psi"], row["feature"]))


def measure(
    month: str,
    current: pd.DataFrame,
    forecast_probabilities: pd.Series,
    model: Model,
    load: FeatureLoader,
    settings: DriftSettings,
) -> Drift:
    """Every drift figure of the month against its model's own data (`load` reads the model's feature months)."""
    card = model.card
    reference = model_reference(card.window, load)
    sample = reference_sample(reference.rows)
    expected = pd.Series(model.predict(reference.validation))
    return Drift(
        month=month,
        model_version=card.version,
        reference_months=reference.months,
        reference_rows=len(reference.rows),
        reference_sample_rows=len(sample),
        validation_slice_matches_card=frame_hash(reference.validation) == card.window.validation_sha256,
        month_rows=len(current),
        thresholds={"warn_psi": settings.warn_psi, "error_psi": settings.error_psi},
        top_features=card.top_features(settings.top_features),
        features=feature_drift(sample, current, card),
        probability_psi=psi(expected, forecast_probabilities),
        label_rate=label_rate(current),
        reference_label_rate=label_rate(reference.rows),
    )


def psi_png(result: Drift) -> bytes:
    """Horizontal bars of the top features' PSI with the warning and error limits."""
    by_name = {row["feature"]: row["psi"] for row in result.features}
    names = result.top_features[::-1]
    limits = result.thresholds
    figure, axes = plots.new_figure(6, 4)
    axes.barh(names, [by_name[name] for name in names])
    axes.axvline(limits["warn_psi"], color="orange", linestyle="--", label=f"warn {limits['warn_psi']}")
    axes.axvline(limits["error_psi"], color="red", linestyle="--", label=f"error {limits['error_psi']}")
    axes.set(xlabel="PSI", title=f"PSI of the model's top features ({result.month})")
    axes.tick_params(axis="y", labelsize=7)
    axes.legend(loc="lower right")
    return plots.png_bytes(figure)


def judge(psis: dict[str, float], thresholds: dict[str, float], subject: str) -> Verdict:
    """Fail when a PSI exceeds the warning limit, with ERROR severity when the worst exceeds the error limit."""
    warn, error = thresholds["warn_psi"], thresholds["error_psi"]
    over = sorted(((v, name) for name, v in psis.items() if v > warn), reverse=True)
    figures = {"psi": {name: round(v, 4) for name, v in psis.items()}, "warn_psi": warn, "error_psi": error}
    if not over:
        return Verdict(True, f"{subject}: every PSI is within {warn}", Severity.WARN, figures)
    listed = ", ".join(
        f"{name} PSI {v:.3f} > {'error' if v > error else 'warn'} limit {error if v > error else warn}"
        for v, name in over
    )
    severity = Severity.ERROR if over[0][0] > error else Severity.WARN
    return Verdict(False, f"{subject} drifted: {listed}", severity, figures)


def important_features_stable(result: Drift) -> Verdict:
    """No top feature of the model drifted beyond the limits."""
    psis = {row["feature"]: row["psi"] for row in result.features if row["feature"] in result.top_features}
    return judge(psis, result.thresholds, "top features")


def prediction_distribution_stable(result: Drift) -> Verdict:
    """The predicted default probability did not drift beyond the limits."""
    return judge({PROBABILITY: result.probability_psi}, result.thresholds, "predicted default probability")
