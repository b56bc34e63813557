"""Fair-lending checks of a trained model: no protected input, and risk moving in each declared direction."""

import numpy as np
import pandas as pd

from credit_assets.core.features import feature_names, monotone_directions, protected_features
from credit_assets.core.modeling.models import Scorer
from credit_assets.core.verdict import Severity, Verdict

SWEEP_ROWS = 200
SWEEP_POINTS = 25
TOLERANCE = 1e-9  # log-odds are sums of leaf values or points: a violation is a real step the wrong way


def protected_inputs(used: list[str]) -> Verdict:
    """Fail when the model uses a protected column, anything derived from one, or a feature the contract lacks."""
    protected = sorted(set(used) & set(protected_features()))
    unknown = sorted(set(used) - set(feature_names()) - set(protected))
    if protected or unknown:
        found = [f"protected: {', '.join(protected)}"] * bool(protected) + [
            f"not a contract input: {', '.join(unknown)}"
        ] * bool(unknown)
        return Verdict(
            False, "the model uses " + "; ".join(found), figures={"protected": protected, "unknown": unknown}
        )
    return Verdict(True, f"none of the model's {len(used)} features is protected or derived from a protected column")


def sweep_grid(values: pd.Series) -> np.ndarray:
    """Evenly spaced quantiles of a feature's observed values."""
    observed = values.dropna().to_numpy(dtype="float64")
    return np.unique(np.quantile(observed, np.linspace(0, 1, SWEEP_POINTS))) if observed.size else np.array([])


def swept(rows: pd.DataFrame, grids: dict[str, np.ndarray]) -> pd.DataFrame:
    """`rows` once per value of every feature's grid, in blocks: in its blocks the feature takes that value."""
    frame = rows.iloc[np.tile(np.arange(len(rows)), sum(grid.size for grid in grids.values()))].reset_index(drop=True)
    start = 0
    for name, grid in grids.items():
        stop = start + grid.size * len(rows)
        column = frame[name].to_numpy(dtype="float64", na_value=np.nan, copy=True)
        column[start:stop] = np.repeat(grid.astype("float32"), len(rows))  # the precision LightGBM bins at
        frame[name] = column
        start = stop
    return frame


def direction_violations(scorer: Scorer, sample: pd.DataFrame, directions: dict[str, int]) -> dict[str, int]:
    """Per constrained feature, how many sample rows move the raw score against the declared direction.

    Every feature's sweep is scored in one call: a call's fixed cost (the frame's conversion) outweighs the rows.
    """
    rows = sample[scorer.feature_name()].head(SWEEP_ROWS)
    grids = {name: sweep_grid(sample[name]) for name in directions if name in rows.columns}
    grids = {name: grid for name, grid in grids.items() if grid.size >= 2}
    if not grids:
        return {}
    scores = np.split(
        scorer.log_odds(swept(rows, grids)), np.cumsum([grid.size * len(rows) for grid in grids.values()])[:-1]
    )
    violations = {}
    for (name, grid), score in zip(grids.items(), scores, strict=True):
        steps = np.diff(score.reshape(grid.size, len(rows)), axis=0) * directions[name]  # must never be negative
        violations[name] = int((steps < -TOLERANCE).any(axis=0).sum())
    return violations


def declared_directions_hold(scorer: Scorer, sample: pd.DataFrame) -> Verdict:
    """Fail when, for any row of the sample, a constrained feature moves the score against its declared direction."""
    directions = monotone_directions()
    violations = direction_violations(scorer, sample, directions)
    broken = {name: count for name, count in violations.items() if count}
    if broken:
        listed = ", ".join(
            f"{name} ({'higher' if directions[name] > 0 else 'lower'} must raise risk; {count} rows)"
            for name, count in broken.items()
        )
        return Verdict(
            False, f"risk moves against the declared direction of {listed}", Severity.ERROR, {"violations": broken}
        )
    return Verdict(
        True,
        f"risk follows the declared direction of all {len(violations)} constrained features",
        figures={"swept_features": len(violations)},
    )
