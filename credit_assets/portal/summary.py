"""A month in figures for the credit department, read from the Dagster instance: decisions, the score chart, the top
reasons, the checks that did not pass and the trends across months."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

import dagster as dg

from credit_assets.core.monitoring.fairness import DECISION_COLUMNS
from credit_assets.core.scoring import DECISIONS
from credit_assets.portal.status import latest_metadata, month_runs

TREND_MONTHS = 12  # the newest scored months the trends show
AIR, GROUP, GROUP_SIZE = (DECISION_COLUMNS[name] for name in ("adverse_impact_ratio", "group", "count"))
# The score chart in SVG user units: WIDTH by HEIGHT, bars between LEFT and RIGHT, from BOTTOM up to TOP.
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 600, 212, 48.0, 576.0, 12.0, 172.0
CUTOFF_LABELS = {"review_cutoff": "review from", "decline_cutoff": "decline from"}  # forecasts metadata names


@dataclass(frozen=True)
class Decision:
    """One decision of the month: how many applications got it and their share."""

    name: str
    count: int | None  # None for a month scored before the counts were recorded
    share: float


@dataclass(frozen=True)
class Segment:
    """One decision's part of a bar of the score chart."""

    decision: str
    count: int
    y: float
    height: float


@dataclass(frozen=True)
class Bar:
    """One default-probability band of the score chart, its decisions stacked (approve at the bottom)."""

    low: float
    high: float
    x: float
    width: float
    total: int
    segments: list[Segment]


@dataclass(frozen=True)
class Cutoff:
    """A decision cut-off drawn across the score chart."""

    label: str
    probability: float
    x: float


@dataclass(frozen=True)
class ScoreChart:
    """Applications per default-probability band with the decisions they got, laid out for an inline SVG."""

    bars: list[Bar]
    tallest: int
    cutoffs: list[Cutoff]
    ticks: list[tuple[str, float]]  # x-axis labels and their positions
    width: ClassVar[int] = WIDTH
    height: ClassVar[int] = HEIGHT
    left: ClassVar[float] = LEFT
    right: ClassVar[float] = RIGHT
    top: ClassVar[float] = TOP
    bottom: ClassVar[float] = BOTTOM


@dataclass(frozen=True)
class Finding:
    """An asset check of the month whose latest evaluation did not pass, in its own words, with its Dagster page."""

    asset: str
    check: str
    severity: str  # "warning" or "failed"
    description: str
    url: str


@dataclass(frozen=True)
class Trend:
    """A scored month's headline figures: approvals, discrimination, calibration in the large, fair lending."""

    month: str
    approval_rate: float | None
    auc: float | None
    observed_rate: float | None
    expected_rate: float | None
    lowest_air: float | None
    lowest_air_group: str = ""


@dataclass(frozen=True)
class MonthSummary:
    """What an analyst needs of a scored month on one page."""

    month: str
    model_version: str
    applications: int
    decisions: list[Decision]
    chart: ScoreChart | None
    top_reasons: list[tuple[str, int]]
    findings: list[Finding]
    trend: Trend
    challengers: list[dict[str, Any]]  # the month's rows of the champion-challenger comparison


def check_url(dagster_url: str, asset_key: dg.AssetKey, check_name: str) -> str:
    """The check's page in the Dagster UI (its asset's checks tab with the check opened)."""
    path = "/".join(quote(part, safe="") for part in asset_key.path)
    return f"{dagster_url}/assets/{path}?{urlencode({'view': 'checks', 'checkDetail': check_name})}"


def findings(instance: dg.DagsterInstance, month: str, dagster_url: str) -> list[Finding]:
    """Every check of the month whose latest evaluation (over the month's newest runs) did not pass, by asset."""
    latest: dict[tuple[str, str], Any] = {}
    for run in reversed(month_runs(instance, month)):  # oldest first: a later evaluation replaces an earlier one
        for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
            evaluation = entry.dagster_event.event_specific_data
            latest[(evaluation.asset_key.to_user_string(), evaluation.check_name)] = evaluation
    return [
        Finding(
            asset,
            check,
            "warning" if evaluation.severity == dg.AssetCheckSeverity.WARN else "failed",
            evaluation.description or "",
            check_url(dagster_url, evaluation.asset_key, check),
        )
        for (asset, check), evaluation in sorted(latest.items())
        if not evaluation.passed
    ]


def x_of(probability: float) -> float:
    return LEFT + probability * (RIGHT - LEFT)


def score_chart(per_band: dict[str, list[int]], cutoffs: dict[str, float]) -> ScoreChart:
    """The stacked bars of applications per equal default-probability band, scaled to the tallest band."""
    bands = len(per_band[DECISIONS[0]])
    totals = [sum(per_band[d][band] for d in DECISIONS) for band in range(bands)]
    tallest, width = max(max(totals), 1), (RIGHT - LEFT) / bands
    bars = []
    for band, total in enumerate(totals):
        segments, top = [], BOTTOM
        for decision in DECISIONS:
            height = per_band[decision][band] / tallest * (BOTTOM - TOP)
            if height:
                top -= height
                segments.append(Segment(decision, per_band[decision][band], top, height))
        bars.append(Bar(band / bands, (band + 1) / bands, LEFT + band * width, width, total, segments))
    lines = [
        Cutoff(label, cutoffs[name], x_of(cutoffs[name])) for name, label in CUTOFF_LABELS.items() if name in cutoffs
    ]
    ticks = [(f"{tick:.0%}", x_of(tick)) for tick in (0, 0.25, 0.5, 0.75, 1)]
    return ScoreChart(bars, tallest, lines, ticks)


def lowest_air(fairness: dict[str, Any]) -> tuple[float, str] | None:
    """The smallest adverse impact ratio of a group large enough to be judged, with its attribute and group."""
    judged_from = (fairness.get("limits") or {}).get("min_group_size", 0)
    attributes = [key.removesuffix("_reference") for key in fairness if key.endswith("_reference")]
    ratios = [
        (row.data[AIR], f"{attribute} {row.data[GROUP]}")
        for attribute in attributes
        for row in fairness[attribute].records
        if row.data.get(AIR) is not None and row.data.get(GROUP_SIZE, 0) >= judged_from
    ]
    return min(ratios, default=None)


def trend(instance: dg.DagsterInstance, month: str) -> Trend | None:
    """The month's headline figures, or None when it was never scored; performance only once labelled."""
    forecasts = latest_metadata(instance, "forecasts", month)
    if forecasts is None:
        return None
    found = latest_metadata(instance, "forecast_performance", month)
    performance = found[1] if found and found[1].get("labelled") else {}
    in_the_large = performance.get("in_the_large") or {}
    fairness = latest_metadata(instance, "fairness", month)
    air = lowest_air(fairness[1]) if fairness else None
    return Trend(
        month,
        (forecasts[1].get("decision_shares") or {}).get("approve"),
        performance.get("roc_auc"),
        in_the_large.get("observed_rate"),
        in_the_large.get("expected_rate"),
        air[0] if air else None,
        air[1] if air else "",
    )


def trends(instance: dg.DagsterInstance, months: Sequence[str]) -> list[Trend]:
    """The headline figures of the TREND_MONTHS newest scored months among `months` (newest first)."""
    found = []
    for month in sorted(months, reverse=True):
        row = trend(instance, month)
        if row is not None:
            found.append(row)
            if len(found) == TREND_MONTHS:
                break
    return found


def sparkline(values: Sequence[float | None], width: float = 120, height: float = 28) -> str:
    """SVG polyline points of the values oldest to newest (given newest first), scaled to their own range."""
    known = [(i, v) for i, v in enumerate(reversed(values)) if v is not None]
    if len(known) < 2:
        return ""
    low, high = min(v for _, v in known), max(v for _, v in known)
    span, step = (high - low) or 1.0, width / max(len(values) - 1, 1)
    return " ".join(f"{i * step:.1f},{height - 2 - (v - low) / span * (height - 4):.1f}" for i, v in known)


def month_summary(instance: dg.DagsterInstance, month: str, dagster_url: str) -> MonthSummary | None:
    """The scored month's summary, or None when it has no forecasts."""
    found = latest_metadata(instance, "forecasts", month)
    row = trend(instance, month)
    if found is None or row is None:
        return None
    forecasts = found[1]
    shares, counts = forecasts.get("decision_shares") or {}, forecasts.get("decision_counts") or {}
    per_band = forecasts.get("applications_per_probability_band")
    comparison = latest_metadata(instance, "model_comparison", month)
    return MonthSummary(
        month,
        forecasts.get("model_version", ""),
        forecasts.get("dagster/row_count", 0),
        [Decision(d, counts.get(d), shares.get(d, 0.0)) for d in DECISIONS],
        score_chart(per_band, forecasts) if per_band else None,
        [(item["reason"], item["applications"]) for item in forecasts.get("top_reasons") or []],
        findings(instance, month, dagster_url),
        row,
        [record.data for record in comparison[1]["month"].records] if comparison else [],
    )
