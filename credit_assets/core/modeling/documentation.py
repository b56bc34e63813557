"""The documentation pack of a model version: one self-contained HTML file for model risk and compliance.

It states the model's purpose and scope, data window and content hashes, features with roles and constraints,
tuning history, validation and backtest, calibration, drift and fairness, the challengers, the decision
economics, known limitations and the change against the previous champion. Every figure comes from the stored
artifacts; a section whose artifact does not exist yet says so rather than being left out.
"""

import base64
import html
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from credit_assets.core.features import catalogue, monotone_directions
from credit_assets.core.modeling import change_control
from credit_assets.core.modeling.card import ModelCard, TrainingWindow
from credit_assets.core.modeling.comparison import COLUMNS
from credit_assets.core.modeling.lda import LdaSearch, air_table, frontier_table
from credit_assets.core.monitoring.fairness import decision_table, outcome_table
from credit_assets.core.monitoring.performance import IN_THE_LARGE_POWER, IN_THE_LARGE_SIGNIFICANCE, Performance

LIMITATIONS = [
    "Labels exist only for approved loans in a real portfolio: there is no reject inference, so the bad rates "
    "of declined applicants are extrapolated by the model, not observed.",
    "The validation slice also serves tuning, early stopping, calibration and the gate; the calibration figures "
    "before and after are measured on its newer half, with the calibrator fitted on the older half.",
    "By default the deployed model is a refit on every labelled row, the validation slice included, with the "
    "parameters, number of trees or characteristics and the calibrator the slice chose (the card's window states "
    "refit_on_all_labels and the deployed model's months, rows and defaults): the validation figures are the "
    "out-of-time estimate of the fit on the training rows before the refit, not a measurement of the deployed "
    "model, which has seen those rows; the forecast month's performance is its first out-of-time measurement.",
    "Sex, marital status and age are never model inputs; fairness is monitored on them, but proxies (for example "
    "the external scores) can still carry their signal: see the fairness section.",
    "Probabilities are calibrated to the validation slice's default rate; a change in the portfolio's default "
    "rate shows as miscalibration in the forecast_performance check before the next model absorbs it.",
    "Exposure at default is AMT_CREDIT; LGD, margin and cost per application are configured assumptions, not "
    "estimates from recoveries.",
]


@dataclass(frozen=True)
class PackInputs:
    """Everything the pack shows, read from storage by the caller; None where an artifact does not exist yet."""

    decision: change_control.MonthRecord
    champion: ModelCard
    challengers: list[ModelCard]
    previous: ModelCard | None
    trials: list[dict[str, Any]]
    comparison: list[dict[str, Any]]
    economics: dict[str, Any] | None
    drift: dict[str, Any] | None
    fairness: dict[str, Any] | None
    performance: dict[str, Any] | None
    images: dict[str, bytes] = field(default_factory=dict)  # title -> PNG
    proposal: dict[str, Any] | None = None  # the promotion log's month entry that developed and proposed the model
    approval: dict[str, Any] | None = None  # how it became champion (None: it awaits a decision)
    search: LdaSearch | None = None  # the LDA search of its development


# Columns holding p-values, under the names the stored reports and the fairness monitor's tables give them.
P_VALUE_COLUMNS = {"p", "p (Holm)", "p_value", "p_holm", "ks_pvalue"}
SMALLEST_P = "< 1e-300"  # a p-value that underflowed to 0: below the smallest positive double
IN_THE_LARGE_COLUMNS = [
    "applicants",
    "rows",
    "expected_defaults",
    "observed_defaults",
    "expected_rate",
    "observed_rate",
    "z",
    "p_value",
    "detectable_excess",
    "passed",
]
# Beyond this many columns a table gets the smaller type and fixed layout of .wide to fit an A4 page.
WIDE_COLUMNS = 7


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def p_text(p: float) -> str:
    """A p-value in two significant digits, scientific below 0.001 (8.1e-09), never rounded to 0."""
    if p == 0:
        return SMALLEST_P
    return f"{p:.1e}" if p < 0.001 else f"{p:.2g}"


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def formatter(column: str, values: list[Any]) -> Callable[[float], str]:
    """One number format for a whole column (never a mix): p-values by p_text, other decimals by magnitude."""
    if column in P_VALUE_COLUMNS:
        return p_text
    magnitudes = [abs(v) for v in values if isinstance(v, float) and not blank(v) and v != 0]
    largest = max(magnitudes, default=0.0)
    if largest >= 1_000:
        return lambda number: f"{number:,.0f}"
    if largest >= 10:
        return lambda number: f"{number:,.1f}"
    # Four places would show a small nonzero value (a regularisation weight of 2e-05) as 0.0000.
    if min(magnitudes, default=1.0) < 0.00005:
        return lambda number: f"{number:.2e}"
    return lambda number: f"{number:.4f}"


def cell(value: Any, number: Callable[[float], str]) -> str:
    """A value as HTML: a mapping as a definition list (never raw JSON), a list joined, a decimal by `number`."""
    if isinstance(value, dict):
        items = "".join(f"<dt>{esc(k)}</dt><dd>{cell(v, formatter(k, [v]))}</dd>" for k, v in value.items())
        return f"<dl>{items}</dl>"
    if blank(value):
        return ""
    if isinstance(value, float):
        return esc(number(value))
    # A break opportunity after each underscore lets a long column name wrap between its words, not inside them.
    return esc(", ".join(map(str, value)) if isinstance(value, list) else value).replace("_", "_<wbr>")


def numeric(value: Any) -> str:
    """The class attribute of a number's cell (kept whole and right-aligned)."""
    is_number = isinstance(value, int | float) and not isinstance(value, bool) and not blank(value)
    return " class='n'" if is_number else ""


def table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """Rows as an HTML table, each column in one format; headers with spaces for underscores so they wrap."""
    if not rows:
        return "<p class='missing'>No rows.</p>"
    columns = columns or list(rows[0])
    formats = {c: formatter(c, [row.get(c) for row in rows]) for c in columns}
    wide = " class='wide'" if len(columns) > WIDE_COLUMNS else ""
    head = "".join(f"<th>{esc(c.replace('_', ' '))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td{numeric(row.get(c))}>{cell(row.get(c), formats[c])}</td>" for c in columns) + "</tr>"
        for row in rows
    )
    return f"<table{wide}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def facts(pairs: dict[str, Any]) -> str:
    """Named figures as an item/value table, each value formatted as the column its name would head."""
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{cell(v, formatter(k, [v]))}</td></tr>" for k, v in pairs.items())
    return f"<table><tbody>{rows}</tbody></table>"


def missing(what: str, asset: str) -> str:
    return f"<p class='missing'>No {what} yet: materialise <code>{asset}</code> for this month.</p>"


def anchor(title: str) -> str:
    return title.lower().replace(" ", "-")


def deployed_rows(window: TrainingWindow) -> dict[str, Any]:
    """What the deployed model trained on: every labelled row when refit, else the training rows (older cards
    record nothing of it and are shown as before)."""
    if window.refit_on_all_labels is None:
        return {}
    return {
        "deployed model": "refit on every labelled row (training and validation) with the slice's choices"
        if window.refit
        else "the fit on the training rows",
        "deployed model's rows": f"{window.deployed_train_rows} ({window.deployed_train_defaults} defaults)",
    }


def window_months(window: TrainingWindow) -> dict[str, str]:
    """Training, split and validation months, each month under one (the split month's older rows train)."""
    shared = [m for m in window.validation_months if m in window.train_months]
    return {
        "training months": ", ".join(m for m in window.train_months if m not in shared) or "none",
        "split month": f"{shared[0]} (rows before SK_ID_CURR {window.validation_first_id} train, the rest validate)"
        if shared
        else "none: the split falls between months",
        "validation months": ", ".join(m for m in window.validation_months if m not in shared) or "none",
    }


def feature_rows(card: ModelCard) -> list[dict[str, Any]]:
    directions = monotone_directions()
    known = {feature.name: feature for feature in catalogue()}
    importance = {row["feature"]: row for row in card.importance}
    # Only LightGBM counts splits; a scorecard's importance is its points spread alone.
    measures = ["gain", *(["splits"] if any("splits" in row for row in card.importance) else [])]
    return [
        {
            "feature": name,
            "role": known[name].role.value if name in known else "unknown",
            "sources": ", ".join(known[name].sources) if name in known else "",
            "declared direction": {1: "higher raises risk", -1: "higher lowers risk"}.get(directions.get(name, 0), ""),
            **{measure: importance.get(name, {}).get(measure) for measure in measures},
            "reason statement": known[name].reason.statement() if name in known and known[name].reason else "",
        }
        for name in card.features
    ]


def change_rows(card: ModelCard, previous: ModelCard | None) -> list[dict[str, Any]]:
    if previous is None:
        return [{"what": "previous champion", "before": "none", "after": card.version}]
    added, removed = (
        sorted(set(card.features) - set(previous.features)),
        sorted(set(previous.features) - set(card.features)),
    )
    changed = sorted(k for k in set(card.params) | set(previous.params) if card.params.get(k) != previous.params.get(k))
    return [
        {"what": "version", "before": previous.version, "after": card.version},
        {"what": "family", "before": previous.family, "after": card.family},
        *(
            {"what": what, "before": before, "after": after}
            for (what, before), after in zip(
                window_months(previous.window).items(), window_months(card.window).values(), strict=True
            )
        ),
        {
            "what": "validation AUC",
            "before": previous.validation_metrics["roc_auc"],
            "after": card.validation_metrics["roc_auc"],
        },
        {"what": "calibration", "before": previous.calibration.method, "after": card.calibration.method},
        {"what": "features added", "before": "", "after": ", ".join(added) or "none"},
        {"what": "features removed", "before": ", ".join(removed) or "none", "after": ""},
        {
            "what": "parameters changed",
            "before": ", ".join(f"{k}={previous.params.get(k)}" for k in changed) or "none",
            "after": ", ".join(f"{k}={card.params.get(k)}" for k in changed) or "none",
        },
    ]


def fairness_html(fairness: dict[str, Any] | None) -> str:
    """The monitor's two group tables, every attribute in one of each: Holm's correction spans them all."""
    if fairness is None:
        return missing("fairness figures", "fairness")
    limits = fairness["limits"]
    decisions, outcomes = [], []
    for name, figures in fairness["attributes"].items():
        groups, reference = figures["groups"], figures["reference_group"]
        attribute = {"attribute": name}
        decisions += [
            attribute | row for row in decision_table(groups, limits["min_group_size"], reference).to_dict("records")
        ]
        outcomes += [attribute | row for row in outcome_table(groups, fairness["labelled"]).to_dict("records")]
    return (
        f"<p>Month {esc(fairness['month'])}: {esc(fairness['rows'])} applications. A group of at least "
        f"{esc(limits['min_group_size'])} applicants is flagged when its adverse impact ratio (AIR, its approval "
        f"rate over the reference group's) is below {esc(limits['air_limit'])} and Fisher's exact p, "
        f"Holm-corrected across all groups of the month, is below {esc(limits['significance'])}.</p>"
        + table(decisions)
        + "<h3>Forecast quality by group</h3>"
        + table(outcomes)
    )


LDA_TITLE = "Search for a less discriminatory alternative"
LDA_SCOPE = (
    "Declined applicants' outcomes are unknown (labels exist only for granted loans), so the adverse impact ratios "
    "below are of decisions, the approval rates on the validation slice, not of outcomes. Group-specific "
    "thresholds were not considered: they would use the protected attribute at decision time, which is disparate "
    "treatment under Regulation B."
)
LDA_ALTERNATIVE_COLUMNS = [
    "name",
    "description",
    "validation_auc",
    "profit",
    "approval_rate",
    "worst_air",
    "worst_group",
    "flagged",
    "passed",
    "within_tolerance",
    "on_frontier",
    "picked",
]


def proxy_rows(search: LdaSearch) -> list[dict[str, Any]]:
    """One row per analysed input: how it was neutralised, its association and disparity share per attribute."""
    return [
        {
            "feature": proxy["feature"],
            "measure": "Cramér's V" if proxy["kind"] == "categorical" else "eta (ranks)",
            "neutralised to": proxy["neutral_value"],
            **{f"association {name}": value for name, value in proxy["association"].items()},
            **{f"share {name}": value for name, value in proxy["disparity_share"].items()},
        }
        for proxy in search.proxies
    ]


LDA_CHART = "LDA frontier: worst-group AIR against AUC and profit"


def change_control_html(pack: PackInputs) -> str:
    """Why the model was developed, the search's proposal and who approved it (or that it awaits a decision)."""
    proposal = pack.proposal or {}
    review = proposal.get("review") or {}
    approval = change_control.approval_text(pack.approval) if pack.approval else "awaits a model_risk decision"
    return facts(
        {
            "developed for": proposal.get("month", "before change control"),
            "why": review.get("why", "every month developed a model before change control"),
            "approval": approval,
            "approval rule": proposal.get("approval_rule", "none (before change control)"),
            "asked for by": ", ".join(proposal.get("requested_by", [])) or "the run (no user recorded)",
        }
    ) + table([{k: t[k] for k in ("kind", "month", "description")} for t in review.get("triggers", [])])


def lda_section(search: LdaSearch, chart_name: str) -> str:
    """The documented search: scope, the policy and its pick, the proxy analysis, the alternatives and their AIRs."""
    alternatives = frontier_table(search)
    airs = air_table(search).reset_index().to_dict("records")
    return (
        f"<p>{esc(LDA_SCOPE)}</p>"
        + facts(
            {
                "base candidate": search.base,
                "policy": search.policy,
                "AUC tolerance": search.auc_tolerance,
                "profit tolerance": f"{search.profit_tolerance:.0%} of the base's realised profit",
                "cut-offs": search.cutoffs,
                "proposed": search.picked or "none",
                "proposed version": search.picked_version or "none",
                "why": search.reason,
            }
        )
        + "<h3>Proxy analysis</h3><p>The base candidate's strongest inputs on the validation slice. Association: "
        "the correlation ratio of a numeric input's ranks by group, or Cramér's V of a categorical one (0 none, 1 "
        "complete). Share: how much of the gap to parity of each attribute's worst judged group the input carries, "
        "(AIR with the input neutralised - AIR) / (1 - AIR), the input replaced by its median or most frequent "
        f"level; ranked by the share of {esc(search.disparity_group or 'no judged group')}.</p>"
        + table(proxy_rows(search))
        + "<h3>Alternatives</h3>"
        + table(alternatives.to_dict("records"), LDA_ALTERNATIVE_COLUMNS)
        + "<h3>Adverse impact ratio of every group</h3>"
        + table(airs)
        + f"<p>The frontier of worst-group AIR against validation AUC and profit is the chart "
        f"<a href='#{anchor('Charts')}'>{esc(chart_name)}</a>.</p>"
    )


def drift_html(drift: dict[str, Any] | None) -> str:
    if drift is None:
        return missing("drift figures", "drift")
    top = [row for row in drift["features"] if row["feature"] in drift["top_features"]]
    return (
        facts(
            {
                "reference months": ", ".join(drift["reference_months"]),
                "prediction PSI": drift["probability_psi"],
                "thresholds": drift["thresholds"],
                "validation slice matches the card": drift["validation_slice_matches_card"],
            }
        )
        + "<h3>Most important features</h3>"
        + table(top)
    )


def economics_html(economics: dict[str, Any] | None) -> str:
    if economics is None:
        return missing("decision economics", "decision_economics")
    columns = ["policy", "cutoff", "approval_rate", "expected_bad_rate", "expected_profit", "realised_profit"]
    return facts(
        {
            **economics["settings"],
            "configured cut-offs give up": f"{economics['shortfall']:.2%} of the best expected profit",
        }
    ) + table(economics["policies"], [c for c in columns if c in economics["policies"][0]])


def performance_html(stored: dict[str, Any] | None) -> str:
    """The month's forecast performance and, once labelled, its calibration in the large."""
    if stored is None:
        return missing("forecast performance", "forecast_performance")
    # Read through the record so that results stored before calibration in the large get its empty default.
    result = Performance.from_dict(stored)
    keys = ("labelled", "roc_auc", "brier", "positive_rate", "mean_predicted")
    tested = {"all applicants": result.in_the_large, "approved applicants": result.approved_in_the_large}
    rows = [{"applicants": name, **found} for name, found in tested.items() if found]
    return (
        "<h3>Forecast performance of the month</h3>"
        + facts({key: getattr(result, key) for key in keys})
        + (
            "<h3>Calibration in the large</h3><p>The month's observed defaults against the sum of their predicted "
            f"probabilities, two-sided z-test, {IN_THE_LARGE_SIGNIFICANCE} shared by the two populations; the "
            f"detectable excess is the smallest relative excess of defaults found with {IN_THE_LARGE_POWER:.0%} "
            "power.</p>" + table(rows, IN_THE_LARGE_COLUMNS)
            if rows
            else ""
        )
    )


def image_html(images: dict[str, bytes]) -> str:
    return "".join(
        f"<figure><img alt='{esc(title)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
        f"<figcaption>{esc(title)}</figcaption></figure>"
        for title, png in images.items()
    )


# Tables fit the page (a 1000px window, A4 or letter in print): text wraps at spaces and underscores (a word
# breaks only where it cannot fit), numbers stay whole and right-aligned, tables of many columns take smaller
# type and share the width out evenly.
STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.4}
h1{border-bottom:3px solid #335;padding-bottom:.3em}h2{border-bottom:1px solid #ccc;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0;font-size:.85em;max-width:100%}
table.wide{font-size:.75em;table-layout:fixed;width:100%}
td,th{border:1px solid #ccc;padding:.2em .4em;text-align:left;vertical-align:top;overflow-wrap:break-word}
td.n{text-align:right;white-space:nowrap}
th{background:#eef}.missing{color:#a33}figure{display:inline-block;margin:.5em}img{max-width:min(520px,100%)}
dl{margin:0}dt{font-weight:600}dd{margin:0 0 .2em 1em}
nav a{margin-right:1em}code{background:#f4f4f4}
@page{margin:12mm}
@media print{body{max-width:none;margin:0;padding:0}table{font-size:.7em}table.wide{font-size:.6em}
tr,figure{break-inside:avoid}}
"""


def render(pack: PackInputs) -> str:
    """The pack as one HTML document (images inline, no external resources)."""
    card, decision = pack.champion, pack.decision
    window = card.window
    sections = [
        (
            "Purpose and scope",
            f"<p>Probability of default of each monthly loan application ({esc(card.month)}), used to approve, refer "
            "or decline it at the configured cut-offs and to state the principal reasons of an adverse decision. "
            "Trained only on labelled months before the month it scores. Not for pricing, limit setting or "
            "collections.</p>"
            + facts(
                {
                    "version": card.version,
                    "family": card.family,
                    "month scored": card.month,
                    "promotion rule": decision.rule,
                    "promotion log entry": decision.sequence,
                    "decided at": decision.decided_at,
                    "triggered by": decision.trigger,
                }
            ),
        ),
        (
            "Data window",
            facts(
                {
                    **window_months(window),
                    "training rows": window.train_rows,
                    "training data SHA-256": window.train_sha256,
                    "validation rows": window.validation_rows,
                    "validation defaults": window.validation_defaults,
                    "validation slice sufficient": f"{window.validation_sufficient} "
                    f"(asked for {window.min_validation_defaults} defaults, at most "
                    f"{window.max_validation_share:.0%} of the labelled rows)",
                    "validation data SHA-256": window.validation_sha256,
                    "first validation SK_ID_CURR": window.validation_first_id,
                    **deployed_rows(window),
                }
            ),
        ),
        ("Features, roles and constraints", table(feature_rows(card))),
        (
            "Parameters and tuning history",
            facts({"provenance": card.params_provenance, "parameters": card.params})
            + (
                table(pack.trials)
                if pack.trials
                else "<p>No Optuna trials (the scorecard is not tuned, or the parameters came from defaults).</p>"
            ),
        ),
        (
            "Validation and backtest",
            facts({f"validation {k}": v for k, v in card.validation_metrics.items()})
            + "<h3>Blocking checks</h3>"
            + table(
                [
                    {"check": n, **v}
                    for c in decision.candidates
                    if c["version"] == card.version
                    for n, v in c["verdicts"].items()
                ]
            )
            + performance_html(pack.performance),
        ),
        ("Calibration", facts(card.calibration.to_dict())),
        (
            "Champion and challengers",
            table(pack.comparison, COLUMNS)
            if pack.comparison
            else missing("comparison", "model_comparison")
            + table([{"version": c.version, "family": c.family, **c.validation_metrics} for c in pack.challengers]),
        ),
        ("Decision economics", economics_html(pack.economics)),
        ("Drift", drift_html(pack.drift)),
        ("Fairness", fairness_html(pack.fairness)),
        ("Change control", change_control_html(pack)),
        (
            "Search for a less discriminatory alternative",
            lda_section(pack.search, LDA_CHART)
            if pack.search
            else "<p>No search on record: the model was developed before change control.</p>",
        ),
        ("Known limitations", "<ul>" + "".join(f"<li>{esc(item)}</li>" for item in LIMITATIONS) + "</ul>"),
        ("Change against the previous champion", table(change_rows(card, pack.previous))),
        ("Charts", image_html(pack.images)),
    ]
    nav = "".join(f"<a href='#{anchor(title)}'>{esc(title)}</a>" for title, _ in sections)
    body = "".join(f"<section id='{anchor(title)}'><h2>{esc(title)}</h2>{text}</section>" for title, text in sections)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Model documentation {esc(card.version)}</title><style>{STYLE}</style></head><body>"
        f"<h1>Model documentation: {esc(card.version)}</h1><nav>{nav}</nav>{body}</body></html>"
    )


def trial_rows(trials: pd.DataFrame) -> list[dict[str, Any]]:
    """Optuna's trials frame as rows: number, state, validation AUC and parameters."""
    keep = [c for c in trials.columns if c in ("number", "state", "value") or c.startswith("params_")]
    return trials[keep].rename(columns={"value": "validation_auc"}).to_dict(orient="records")
