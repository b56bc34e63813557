"""The documentation pack of a model version: one self-contained HTML file for model risk and compliance.

It states the model's purpose and scope, data window and content hashes, features with roles and constraints,
tuning history, validation and backtest, calibration, drift and fairness, the challengers, the decision
economics, known limitations and the change against the previous champion. Every figure comes from the stored
artifacts; a section whose artifact does not exist yet says so rather than being left out.
"""

import base64
import html
import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from credit_assets.core.features import catalogue, monotone_directions
from credit_assets.core.modeling.card import ModelCard
from credit_assets.core.modeling.comparison import COLUMNS

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

    decision: dict[str, Any]
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


def esc(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1_000 else f"{value:.4f}"
    return html.escape("" if value is None else str(value))


def table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    if not rows:
        return "<p class='missing'>No rows.</p>"
    columns = columns or list(rows[0])
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{esc(row.get(c))}</td>" for c in columns) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def facts(pairs: dict[str, Any]) -> str:
    return table([{"item": key, "value": value} for key, value in pairs.items()])


def missing(what: str, asset: str) -> str:
    return f"<p class='missing'>No {what} yet: materialise <code>{asset}</code> for this month.</p>"


def anchor(title: str) -> str:
    return title.lower().replace(" ", "-")


def feature_rows(card: ModelCard) -> list[dict[str, Any]]:
    directions = monotone_directions()
    known = {feature.name: feature for feature in catalogue()}
    gains = {row["feature"]: row["gain"] for row in card.importance}
    return [
        {
            "feature": name,
            "role": known[name].role.value if name in known else "unknown",
            "sources": ", ".join(known[name].sources) if name in known else "",
            "declared direction": {1: "higher raises risk", -1: "higher lowers risk"}.get(directions.get(name, 0), ""),
            "importance": gains.get(name),
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
        {
            "what": "training months",
            "before": ", ".join(previous.window["train_months"]),
            "after": ", ".join(card.window["train_months"]),
        },
        {
            "what": "validation months",
            "before": ", ".join(previous.window["validation_months"]),
            "after": ", ".join(card.window["validation_months"]),
        },
        {
            "what": "validation AUC",
            "before": previous.validation_metrics["roc_auc"],
            "after": card.validation_metrics["roc_auc"],
        },
        {"what": "calibration", "before": previous.calibration.get("method"), "after": card.calibration.get("method")},
        {"what": "features added", "before": "", "after": ", ".join(added) or "none"},
        {"what": "features removed", "before": ", ".join(removed) or "none", "after": ""},
        {
            "what": "parameters changed",
            "before": ", ".join(f"{k}={previous.params.get(k)}" for k in changed) or "none",
            "after": ", ".join(f"{k}={card.params.get(k)}" for k in changed) or "none",
        },
    ]


def fairness_html(fairness: dict[str, Any] | None) -> str:
    if fairness is None:
        return missing("fairness figures", "fairness")
    limits = esc(json.dumps(fairness["limits"]))
    parts = [f"<p>Month {esc(fairness['month'])}: {esc(fairness['rows'])} applications; limits {limits}.</p>"]
    for name, figures in fairness["attributes"].items():
        parts.append(f"<h3>{esc(name)} (reference group {esc(figures.get('reference_group'))})</h3>")
        parts.append(table(figures["groups"]))
    return "".join(parts)


def drift_html(drift: dict[str, Any] | None) -> str:
    if drift is None:
        return missing("drift figures", "drift")
    top = [row for row in drift["features"] if row["feature"] in drift["top_features"]]
    return (
        facts(
            {
                "reference months": ", ".join(drift["reference_months"]),
                "prediction PSI": drift["probability_psi"],
                "thresholds": json.dumps(drift["thresholds"]),
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


def image_html(images: dict[str, bytes]) -> str:
    return "".join(
        f"<figure><img alt='{esc(title)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
        f"<figcaption>{esc(title)}</figcaption></figure>"
        for title, png in images.items()
    )


STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222;line-height:1.4}
h1{border-bottom:3px solid #335;padding-bottom:.3em}h2{border-bottom:1px solid #ccc;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0;font-size:.85em}
td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}
th{background:#eef}.missing{color:#a33}figure{display:inline-block;margin:.5em}img{max-width:520px}
nav a{margin-right:1em}code{background:#f4f4f4}
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
                    "promotion rule": decision["rule"],
                    "promotion log entry": decision["sequence"],
                    "decided at": decision["decided_at"],
                    "triggered by": json.dumps(decision["trigger"]),
                }
            ),
        ),
        (
            "Data window",
            facts(
                {
                    "training months": ", ".join(window["train_months"]),
                    "training rows": window["train_rows"],
                    "training data SHA-256": window["train_sha256"],
                    "validation months": ", ".join(window["validation_months"]),
                    "validation rows": window["validation_rows"],
                    "validation defaults": window["validation_defaults"],
                    "validation slice sufficient": f"{window['validation_sufficient']} "
                    f"(asked for {window['min_validation_defaults']} defaults, at most "
                    f"{window['max_validation_share']:.0%} of the labelled rows)",
                    "validation data SHA-256": window["validation_sha256"],
                    "first validation SK_ID_CURR": window["validation_first_id"],
                }
            ),
        ),
        ("Features, roles and constraints", table(feature_rows(card))),
        (
            "Parameters and tuning history",
            facts({"provenance": json.dumps(card.params_provenance), "parameters": json.dumps(card.params)})
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
                    for c in decision["candidates"]
                    if c["version"] == card.version
                    for n, v in c["verdicts"].items()
                ]
            )
            + (
                "<h3>Forecast performance of the month</h3>"
                + facts(
                    {
                        k: pack.performance.get(k)
                        for k in ("labelled", "roc_auc", "brier", "positive_rate", "mean_predicted")
                    }
                )
                if pack.performance
                else missing("forecast performance", "forecast_performance")
            ),
        ),
        ("Calibration", facts(card.calibration)),
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
