"""Calibration of a model's probabilities on its out-of-time validation slice, and how calibration is judged.

Isotonic regression and Platt (sigmoid) scaling are each fitted on the older half of the slice and scored by
log loss on the newer half, next to the uncalibrated scores; the best method whose gain over the raw scores is
material (at least MIN_RELATIVE_GAIN and MATERIAL_STANDARD_ERRORS standard errors of the paired per-row
difference) is refitted on the whole slice. The calibrator is stored as JSON (isotonic: its step thresholds;
sigmoid: two coefficients), never pickled.
"""

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit, logit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from credit_assets.core import plots
from credit_assets.core.records import EvolvingRecord, JsonRecord
from credit_assets.core.verdict import Severity, Verdict

Method = Literal["none", "isotonic", "sigmoid"]
METHODS: tuple[Method, ...] = ("none", "isotonic", "sigmoid")
BANDS = 10  # equal-frequency score bands for the calibration error, the reliability plot and the binomial tests
EDGE = 1e-6  # probabilities are kept inside (EDGE, 1 - EDGE) so log loss and the logit stay finite
# A calibration replaces the raw scores only when it lowers held-out log loss by this share: at full scale a
# sigmoid won by 0.007 % once and raised the calibration error, which is noise, not a better model.
MIN_RELATIVE_GAIN = 0.001
# ... and by this many standard errors of the per-row difference: on a slice of a few hundred defaults a method
# "won" by 0.0002 of log loss, well inside the noise of the half it was measured on.
MATERIAL_STANDARD_ERRORS = 2.0


@dataclass(frozen=True)
class Calibrator(JsonRecord):
    """A monotone map from a model's raw probability to a calibrated one."""

    method: Method = "none"
    thresholds: list[float] = field(default_factory=list)  # isotonic: raw probabilities of the steps
    values: list[float] = field(default_factory=list)  # isotonic: calibrated probability at each threshold
    slope: float = 1.0  # sigmoid: calibrated = expit(slope * logit(raw) + intercept)
    intercept: float = 0.0

    def apply(self, raw: np.ndarray) -> np.ndarray:
        raw = np.clip(np.asarray(raw, dtype="float64"), EDGE, 1 - EDGE)
        if self.method == "isotonic":
            return np.clip(np.interp(raw, self.thresholds, self.values), EDGE, 1 - EDGE)
        if self.method == "sigmoid":
            return expit(self.slope * logit(raw) + self.intercept)
        return raw


def fit_calibrator(method: Method, labels: np.ndarray, raw: np.ndarray) -> Calibrator:
    """Fit one calibration method on labelled raw probabilities."""
    raw = np.clip(raw, EDGE, 1 - EDGE)
    if method == "isotonic":
        isotonic = IsotonicRegression(y_min=EDGE, y_max=1 - EDGE, out_of_bounds="clip").fit(raw, labels)
        return Calibrator("isotonic", isotonic.X_thresholds_.tolist(), isotonic.y_thresholds_.tolist())
    if method == "sigmoid":
        platt = LogisticRegression(C=1e6).fit(logit(raw).reshape(-1, 1), labels)
        return Calibrator("sigmoid", slope=float(platt.coef_[0, 0]), intercept=float(platt.intercept_[0]))
    return Calibrator()


def row_log_loss(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Each row's log loss, the probabilities kept inside (EDGE, 1 - EDGE)."""
    p = np.clip(probabilities, EDGE, 1 - EDGE)
    return -(labels * np.log(p) + (1 - labels) * np.log1p(-p))


def gain_standard_error(baseline: np.ndarray, losses: np.ndarray) -> float:
    """Standard error of the mean per-row log-loss gain of `losses` over `baseline` (the same rows)."""
    return float(np.std(baseline - losses, ddof=1) / np.sqrt(baseline.size))


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Row-weighted mean gap between observed default rate and mean probability over equal-frequency bands."""
    return table_ece(band_table(labels, probabilities))


def band_table(labels: np.ndarray, probabilities: np.ndarray, bands: int = BANDS) -> pd.DataFrame:
    """Per equal-frequency band of the probability: rows, defaults, mean probability, observed rate."""
    frame = pd.DataFrame({"p": np.asarray(probabilities, dtype="float64"), "y": np.asarray(labels, dtype="float64")})
    frame["band"] = pd.qcut(frame["p"].rank(method="first"), min(bands, len(frame)), labels=False)
    grouped = frame.groupby("band")
    table = grouped.agg(
        rows=("y", "size"), defaults=("y", "sum"), mean_predicted=("p", "mean"), observed_rate=("y", "mean")
    )
    return table.reset_index().astype({"band": "int64", "rows": "int64", "defaults": "int64"})


@dataclass(frozen=True)
class CalibrationReport(EvolvingRecord):
    """How the calibration method was chosen and what it changed, measured on the newer half of the slice."""

    method: Method
    held_out_rows: int
    held_out_log_loss: dict[str, float]
    ece_before: float
    ece_after: float
    log_loss_before: float
    log_loss_after: float
    # of each method's gain over the raw scores; None on cards from before the gain had to be material
    held_out_gain_standard_error: dict[str, float] | None = None


def calibrate(labels: pd.Series, raw: np.ndarray) -> tuple[Calibrator, CalibrationReport]:
    """Choose the method by log loss on the newer half (fitted on the older), if its gain is material, then refit
    it on the whole slice."""
    y = labels.to_numpy(dtype="float64")
    half = len(y) // 2
    held_y, held_raw = y[half:], raw[half:]
    fitted = {method: fit_calibrator(method, y[:half], raw[:half]) for method in METHODS}
    rows = {method: row_log_loss(held_y, fitted[method].apply(held_raw)) for method in METHODS}
    losses = {method: float(rows[method].mean()) for method in METHODS}
    noise = {method: gain_standard_error(rows["none"], rows[method]) for method in METHODS}
    material = [
        method
        for method in METHODS
        if losses["none"] - losses[method]
        > max(MIN_RELATIVE_GAIN * losses["none"], MATERIAL_STANDARD_ERRORS * noise[method])
    ]
    method = min(material, key=lambda name: (losses[name], METHODS.index(name)), default="none")
    held_after = fitted[method].apply(held_raw)
    report = CalibrationReport(
        method=method,
        held_out_rows=len(held_y),
        held_out_log_loss={name: round(loss, 6) for name, loss in losses.items()},
        held_out_gain_standard_error={name: round(error, 6) for name, error in noise.items()},
        ece_before=expected_calibration_error(held_y, fitted["none"].apply(held_raw)),
        ece_after=expected_calibration_error(held_y, held_after),
        log_loss_before=losses["none"],
        log_loss_after=losses[method],
    )
    return fit_calibrator(method, y, raw), report


def binomial_bands(table: pd.DataFrame, significance: float) -> pd.DataFrame:
    """Per score band of a `band_table`, a two-sided binomial test of its defaults against its mean probability.

    The significance is Bonferroni-corrected over the bands, so one month does not warn by chance alone.
    """
    tested = table.copy()
    tested["p_value"] = [
        stats.binomtest(int(row.defaults), int(row.rows), float(np.clip(row.mean_predicted, EDGE, 1 - EDGE))).pvalue
        for row in table.itertuples()
    ]
    tested["miscalibrated"] = tested["p_value"] < significance / len(tested)
    return tested


def table_ece(table: pd.DataFrame) -> float:
    """Expected calibration error of a `band_table`."""
    gaps = (table["observed_rate"] - table["mean_predicted"]).abs()
    return float((gaps * table["rows"]).sum() / table["rows"].sum())


def calibration_verdict(table: pd.DataFrame, significance: float, min_defaults: int) -> Verdict:
    """Warn when any score band's observed default rate is clearly off its predicted probability."""
    defaults = int(table["defaults"].sum())
    if defaults < min_defaults:
        return Verdict(
            True,
            f"too few defaults for a calibration test: {defaults} (at least {min_defaults} needed)",
            Severity.WARN,
            {"defaults": defaults, "evaluated": False},
        )
    tested = binomial_bands(table, significance)
    failing = tested.loc[tested["miscalibrated"], "band"].tolist()
    figures: dict[str, Any] = {
        "defaults": defaults,
        "evaluated": True,
        "ece": table_ece(table),
        "miscalibrated_bands": failing,
        "p_values": [round(float(value), 6) for value in tested["p_value"]],
    }
    if failing:
        return Verdict(
            False,
            f"{len(failing)} of {len(tested)} score bands default at a rate their probability does not explain "
            f"(binomial test at {significance}, Bonferroni-corrected)",
            Severity.WARN,
            figures,
        )
    return Verdict(
        True, f"every one of {len(tested)} score bands is consistent with its probability", Severity.WARN, figures
    )


def reliability_png(title: str, tables: dict[str, pd.DataFrame]) -> bytes:
    """Observed default rate against mean probability per band, one line per named `band_table`."""
    figure, axes = plots.new_figure(5, 5)
    top = 0.01
    for name, table in tables.items():
        axes.plot(table["mean_predicted"], table["observed_rate"], marker="o", label=name)
        top = max(top, table["mean_predicted"].max(), table["observed_rate"].max())
    axes.plot([0, top], [0, top], color="grey", linestyle="--", label="perfect calibration")
    axes.set(xlabel="mean predicted probability", ylabel="observed default rate", title=title)
    axes.legend(loc="upper left")
    return plots.png_bytes(figure)
