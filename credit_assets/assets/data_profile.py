"""data_profile: the article's exploratory look at every month, as a table, inline charts and an HTML report.

Per contract column: dtype, missing rate and summary statistics (numbers: count, mean, std, min, quartiles,
max; text: observed levels, the top level and its share of the non-missing rows), a histogram or a bar
chart of level shares. The report (`profile.html`) is one self-contained file with every chart embedded.
"""

import base64
import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from credit_assets import metadata, plots, schema
from credit_assets.assets.validated_applications import validated_applications
from credit_assets.partitions import ONE_MONTH_PER_RUN, monthly_partitions
from credit_assets.resources.storage import StorageResource, atomic_write

ASSET = "data_profile"
REPORT_FILE = "profile.html"
CHART_DIR = "charts"
KEY_COLUMNS = [
    schema.TARGET_COLUMN, "EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3", "DAYS_BIRTH", "AMT_CREDIT",
    "AMT_INCOME_TOTAL", "CODE_GENDER", "NAME_INCOME_TYPE",
]
FIGURE_INCHES, FIGURE_DPI = (3.2, 2.2), 80
HISTOGRAM_BINS = 30
HISTOGRAM_RANGE = (0.005, 0.995)  # quantiles: a few extreme values (income up to 1.17e8) would flatten every bar
MAX_BARS = 12
ALL_MISSING, ABSENT = "all missing", "absent (unlabelled month)"
STAT_COLUMNS = ["count", "mean", "std", "min", "25%", "50%", "75%", "max"]


@dataclass(frozen=True)
class ColumnProfile:
    """One contract column in one month: its summary row and its chart (None when there is nothing to draw)."""

    summary: dict[str, Any]
    png: bytes | None


def _number(value: Any) -> float | None:
    return None if pd.isna(value) else round(float(value), 6)


def summarise(values: pd.Series | None, col: schema.Column) -> dict[str, Any]:
    """Dtype, missing rate and summary statistics of a column; `values` None when the month lacks the column."""
    row: dict[str, Any] = {"column": col.name, "dtype": "-", "missing_rate": None, **dict.fromkeys(STAT_COLUMNS),
                           "levels": None, "top": None, "top_share": None, "note": ""}
    if values is None:
        return {**row, "note": ABSENT}
    row.update(dtype=str(values.dtype), missing_rate=_number(values.isna().mean()), count=int(values.notna().sum()))
    if row["count"] == 0:
        return {**row, "note": ALL_MISSING}
    if col.is_text:
        shares = values.value_counts(normalize=True)
        return {**row, "levels": int((shares > 0).sum()), "top": str(shares.index[0]), "top_share": _number(shares.iloc[0])}
    described = values.describe()
    return {**row, **{stat: _number(described[stat]) for stat in STAT_COLUMNS[1:]}}


def _histogram(axes: plt.Axes, values: pd.Series) -> str:
    observed = values.dropna().to_numpy(dtype="float64")
    low, high = np.quantile(observed, HISTOGRAM_RANGE)
    trimmed = bool(high > low)
    counts, edges = np.histogram(observed, bins=HISTOGRAM_BINS, range=(low, high) if trimmed else None)
    axes.stairs(counts, edges, fill=True)
    axes.set_yticks([])  # the shape is what matters here; counts are in the summary
    return "0.5-99.5 percentile range" if trimmed else "full range"


def _level_shares(axes: plt.Axes, values: pd.Series) -> str:
    shares = values.value_counts(normalize=True).head(MAX_BARS).iloc[::-1]
    axes.barh([str(level)[:24] for level in shares.index], shares.to_numpy())
    axes.tick_params(axis="y", labelsize=6)
    return "share of non-missing rows" + (f", top {MAX_BARS}" if values.nunique() > MAX_BARS else "")


def draw(figure: Figure, values: pd.Series, col: schema.Column, path: Path) -> bytes:
    """Render one column's chart on the shared figure and store it as PNG."""
    axes = figure.axes[0]
    axes.clear()
    subtitle = _level_shares(axes, values) if col.is_text else _histogram(axes, values)
    axes.set_title(f"{col.name}\n({subtitle})", fontsize=7)
    axes.tick_params(labelsize=6)
    axes.locator_params(axis="x", nbins=4)  # tick labels take most of the rendering time
    return plots.save_png(figure, path)


def profile_columns(frame: pd.DataFrame, folder: Path) -> list[ColumnProfile]:
    """Summary row and chart of every contract column, charts drawn one after another on one small figure."""
    figure, _ = plots.new_figure(*FIGURE_INCHES)
    figure.set_dpi(FIGURE_DPI)
    profiles = []
    try:
        for col in schema.columns():
            values = frame[col.name] if col.name in frame.columns else None
            summary, path = summarise(values, col), folder / f"{col.name}.png"
            if values is None or summary["count"] == 0:
                path.unlink(missing_ok=True)  # a chart from an earlier run of this month would contradict the report
                profiles.append(ColumnProfile(summary, None))
            else:
                profiles.append(ColumnProfile(summary, draw(figure, values, col, path)))
    finally:
        plt.close(figure)
    return profiles


def _cell(value: Any) -> str:
    return "" if value is None else html.escape(f"{value:.6g}" if isinstance(value, float) else str(value))


def report_html(month: str, rows: int, profiles: list[ColumnProfile]) -> str:
    """One self-contained HTML page: every column's summary row, then every column's chart."""
    keys = list(profiles[0].summary)
    header = "".join(f"<th>{html.escape(key)}</th>" for key in keys)
    body = "".join("<tr>" + "".join(f"<td>{_cell(p.summary[k])}</td>" for k in keys) + "</tr>" for p in profiles)
    sections = []
    for p in profiles:
        name = html.escape(p.summary["column"])
        chart = (f'<img alt="{name}" src="data:image/png;base64,{base64.b64encode(p.png).decode("ascii")}">'
                 if p.png else f"<p>no chart: {html.escape(p.summary['note'])}</p>")
        sections.append(f'<section id="{name}"><h3>{name}</h3>{chart}</section>')
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Data profile {month}</title>"
        "<style>body{font-family:sans-serif}table{border-collapse:collapse;font-size:12px}"
        "td,th{border:1px solid #ccc;padding:2px 6px}section{display:inline-block;margin:6px}</style></head>"
        f"<body><h1>Data profile {month}</h1><p>{rows} rows, {len(profiles)} contract columns.</p>"
        f"<table><tr>{header}</tr>{body}</table><h2>Charts</h2>{''.join(sections)}</body></html>"
    )


def _metadata(frame: pd.DataFrame, profiles: list[ColumnProfile], report: Path) -> dict[str, Any]:
    charts = {p.summary["column"]: p.png for p in profiles if p.summary["column"] in KEY_COLUMNS and p.png}
    result: dict[str, Any] = {
        "dagster/row_count": len(frame),
        "labelled": schema.TARGET_COLUMN in frame.columns,
        "all_missing_columns": [p.summary["column"] for p in profiles if p.summary["note"] == ALL_MISSING],
        "summary": metadata.table(pd.DataFrame([p.summary for p in profiles], dtype=object)),
        "report": dg.MetadataValue.path(str(report)),
        **{f"chart_{name}": dg.MetadataValue.md(plots.markdown_image(png, name)) for name, png in charts.items()},
    }
    if result["labelled"]:
        result["target_rate"] = float(frame[schema.TARGET_COLUMN].mean())
    return result


@dg.asset(
    partitions_def=monthly_partitions,
    backfill_policy=ONE_MONTH_PER_RUN,
    deps=[validated_applications],
    group_name="monitoring",
    kinds={"pandas", "matplotlib"},
    # In a run, ready steps start by priority, then by name: without this the profile's 122 charts would
    # run before features, model and forecasts and delay the month's forecast file.
    op_tags={"dagster/priority": "-1"},
    description="Per contract column: dtype, missing rate, summary statistics and a chart; one HTML report per month.",
)
def data_profile(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    """Profile the month's validated applications and write the self-contained HTML report."""
    month = context.partition_key
    frame = storage.read_table("validated_applications", month)
    folder = storage.artifact_dir(ASSET, month)
    profiles = profile_columns(frame, folder / CHART_DIR)
    page = report_html(month, len(frame), profiles)
    report = atomic_write(folder / REPORT_FILE, lambda tmp: tmp.write_text(page, encoding="utf-8"))
    return dg.MaterializeResult(metadata=_metadata(frame, profiles, report))
