"""What the Models page shows, read from the registry's promotion log and the model step's stored LDA search: the
champion in force beside the candidate awaiting approval, the history of decisions, and who may not decide.

The LDA summary's fields are written by the model step and may grow: anything missing is shown as missing, and
the alternatives are shown as whatever table the summary holds."""

import json
from dataclasses import dataclass, field
from typing import Any

from credit_assets.core.modeling import change_control as cc
from credit_assets.core.modeling.card import ModelCard
from credit_assets.core.modeling.month_decision import FRONTIER_FILE, LDA_FILE, MODEL_ASSET
from credit_assets.core.modeling.registry import ModelRegistry
from credit_assets.core.store import ArtifactStore, MissingArtifact

HISTORY_ROWS = 50
TABLE_ROWS = 50  # alternatives of one LDA search
CELL_CHARACTERS = 120  # a nested value in a table cell or an evidence line
TABLE_KEYS = ("frontier", "alternatives", "table", "rows")  # where the summary may keep its alternatives, first found
NAME_KEYS = ("name", "alternative", "label", "version", "id")  # what may name an alternative
PROFIT_KEYS = ("profit", "expected_profit", "validation_profit")


@dataclass(frozen=True)
class Table:
    """Rows of text under named columns."""

    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    marked: int | None = None  # the row the policy picked
    left_off: int = 0  # rows beyond TABLE_ROWS


@dataclass(frozen=True)
class ModelView:
    """One version as the page shows it: what it is, how it validated, its fairness, its search and its reasons."""

    label: str  # "champion in force" or "candidate awaiting approval"
    version: str
    family: str | None
    month: str | None  # developed for
    approval: str
    metrics: dict[str, Any]
    calibration: dict[str, Any]
    verdicts: list[dict[str, Any]]
    air: dict[str, Any]
    lda: dict[str, Any]
    alternatives: Table
    profit: Any
    triggers: list[dict[str, Any]]
    why: str
    frontier: bool  # its development month stored a frontier chart
    documentation: bool


@dataclass(frozen=True)
class ModelsPage:
    champion: ModelView | None
    candidate: ModelView | None
    comparison: list[tuple[str, ...]]
    history: list[dict[str, Any]]
    pending: dict[str, Any] | None  # the month entry whose candidate awaits approval


def text(value: Any, limit: int = CELL_CHARACTERS) -> str:
    """A value as a short cell: numbers to 4 decimals, nested values as compact JSON, long ones cut."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1_000 else f"{value:.4f}"
    shown = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return shown if len(shown) <= limit else f"{shown[:limit]}…"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _rows(lda: dict[str, Any]) -> list[dict[str, Any]]:
    """The alternatives table of an LDA summary: the first list of records under TABLE_KEYS, else any."""
    lists = [lda.get(key) for key in TABLE_KEYS] + list(lda.values())
    return next((found for found in lists if isinstance(found, list) and found and isinstance(found[0], dict)), [])


def _picked(rows: list[dict[str, Any]], picked: Any) -> int | None:
    """The index of the row the policy picked: flagged as picked, or named by the summary's `picked`."""
    for index, row in enumerate(rows):
        if row.get("picked") is True or (picked is not None and any(row.get(key) == picked for key in NAME_KEYS)):
            return index
    return None


def alternatives(lda: dict[str, Any]) -> Table:
    """The LDA summary's alternatives as a bounded table, the picked row marked."""
    rows = [row for row in _rows(lda) if isinstance(row, dict)]
    found = list(dict.fromkeys(key for row in rows[:TABLE_ROWS] for key in row))
    columns = [key for key in NAME_KEYS if key in found] + [key for key in found if key not in NAME_KEYS]
    shown = [[text(row.get(column)) for column in columns] for row in rows[:TABLE_ROWS]]
    return Table(columns, shown, _picked(rows[:TABLE_ROWS], lda.get("picked")), max(0, len(rows) - TABLE_ROWS))


def picked_profit(lda: dict[str, Any]) -> Any:
    """The picked alternative's profit on the validation slice, when the table says it."""
    rows = _rows(lda)
    index = _picked(rows, lda.get("picked"))
    row = rows[index] if index is not None else {}
    return next((row[key] for key in PROFIT_KEYS if key in row), None)


def stored_lda(store: ArtifactStore, month: str | None) -> dict[str, Any]:
    """The month's stored LDA search (lda.json), or {} when it has none or it does not read."""
    try:
        return _dict(store.find_report(MODEL_ASSET, month, LDA_FILE)) if month else {}
    except (OSError, ValueError):
        return {}


def frontier_chart(store: ArtifactStore, month: str) -> bytes | None:
    try:
        return store.read_report_file(MODEL_ASSET, month, FRONTIER_FILE)
    except MissingArtifact:
        return None


def card_of(registry: ModelRegistry, version: str) -> ModelCard | None:
    """The version's card from its registry folder, or None (the page shows what the log says)."""
    try:
        return registry.card(version)
    except (OSError, ValueError, TypeError):
        return None


def _approval_text(approval: dict[str, Any] | None) -> str:
    if not approval:
        return "—"
    if approval.get("kind") == cc.APPROVAL:
        return f"approved by {approval['by']} on {approval.get('decided_at', '?')}"
    return " ".join(filter(None, [approval.get("status"), f"({approval['by']})" if approval.get("by") else None]))


def model_view(
    label: str, version: str, entry: dict[str, Any] | None, approval: str, registry: ModelRegistry, store: ArtifactStore
) -> ModelView:
    """A version from the month entry that developed it (its candidate record, review and LDA summary), its card
    where the entry is silent (a champion from before change control) and the stored LDA search."""
    entry = entry or {}
    candidate = next((c for c in entry.get("candidates") or [] if _dict(c).get("version") == version), {})
    card, month = card_of(registry, version), entry.get("month")
    lda = {**stored_lda(store, month), **_dict(entry.get("lda"))}  # the log's summary first, the stored search fills in
    review = _dict(entry.get("review"))
    return ModelView(
        label=label,
        version=version,
        family=candidate.get("family") or (card.family if card else None),
        month=month or (card.month if card else None),
        approval=approval,
        metrics=_dict(candidate.get("validation_metrics")) or (card.validation_metrics if card else {}),
        calibration=_dict(candidate.get("calibration")) or (card.calibration.to_dict() if card else {}),
        verdicts=[{"name": name, **_dict(v)} for name, v in _dict(candidate.get("verdicts")).items()],
        air=_dict(lda.get("picked_air")),
        lda=lda,
        alternatives=alternatives(lda),
        profit=picked_profit(lda),
        triggers=[_dict(t) for t in review.get("triggers") or []],
        why=str(review.get("why") or ""),
        frontier=bool(month) and store.has_report_file(MODEL_ASSET, month, FRONTIER_FILE),
        documentation=store.has_documentation(version),
    )


def comparison(views: list[ModelView | None]) -> list[tuple[str, ...]]:
    """The figures of the champion and the candidate row by row: (what, champion's, candidate's)."""
    present = [view for view in views if view]
    metrics = list(dict.fromkeys(name for view in present for name in view.metrics))
    groups = sorted({group for view in present for group in view.air})
    rows: list[tuple[str, Any]] = [
        ("version", lambda v: v.version),
        ("family", lambda v: v.family),
        ("developed for", lambda v: v.month),
        ("approval", lambda v: v.approval),
        *[(f"validation {name}", lambda v, n=name: v.metrics.get(n)) for name in metrics],
        ("calibration", lambda v: v.calibration.get("method")),
        ("ECE before calibration", lambda v: v.calibration.get("ece_before")),
        ("ECE after calibration", lambda v: v.calibration.get("ece_after")),
        ("blocking verdicts passed", lambda v: _passed(v.verdicts)),
        *[(f"AIR {group}", lambda v, g=group: v.air.get(g)) for group in groups],
        ("profit on the validation slice", lambda v: v.profit),
        ("LDA policy's pick", lambda v: v.lda.get("picked")),
    ]
    return [(what, *(text(pick(view)) if view else "" for view in views)) for what, pick in rows]


def _passed(verdicts: list[dict[str, Any]]) -> str | None:
    if not verdicts:
        return None
    return f"{sum(bool(v.get('passed')) for v in verdicts)} of {len(verdicts)}"


def history(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every decision on a proposed version, newest first, at most HISTORY_ROWS: model_risk approvals and
    rejections, automatic approvals, proposals left awaiting, and champions from before change control."""
    rows, legacy_champion = [], None
    for entry in entries:
        if cc.kind(entry) == cc.APPROVAL:
            rows.append(_row(entry, entry["version"], entry["decision"], entry.get("by"), entry.get("comment")))
        elif cc.kind(entry) == cc.MONTH and entry.get("review") is None and entry.get("champion") != legacy_champion:
            legacy_champion = entry.get("champion")
            rows.append(_row(entry, legacy_champion, cc.NOT_REQUIRED, None, "before change control"))
        elif cc.kind(entry) == cc.MONTH and entry.get("proposed"):
            approval = _dict(entry.get("approval"))
            status = "proposed" if approval.get("status") == cc.AWAITING else approval.get("status")
            rows.append(_row(entry, entry["proposed"], status, approval.get("by"), approval.get("reason")))
    return rows[::-1][:HISTORY_ROWS]


def _row(entry: dict[str, Any], version: str | None, decision: Any, by: Any, comment: Any) -> dict[str, Any]:
    when = entry.get("decided_at") or entry.get("recorded_at")
    return {
        "at": when,
        "month": entry.get("month"),
        "version": version,
        "decision": decision,
        "by": by,
        "comment": comment,
    }


def models_page(registry: ModelRegistry, store: ArtifactStore) -> ModelsPage:
    """The page's content from the promotion log (checked whole: RegistryError when it is not intact)."""
    entries = registry.promotions()
    state = cc.fold(entries)
    champion = candidate = None
    if state.champion:
        approval = _approval_text(state.approval)
        champion = model_view("champion in force", state.champion, state.developed, approval, registry, store)
    if state.pending:
        pending = state.pending
        status = _dict(pending.get("approval")).get("reason") or cc.AWAITING
        candidate = model_view("candidate awaiting approval", pending["proposed"], pending, status, registry, store)
    return ModelsPage(champion, candidate, comparison([champion, candidate]), history(entries), state.pending)


def logged_version(entries: list[dict[str, Any]], version: str) -> tuple[str, str | None] | None:
    """(the log's own string for a version it names as a champion or a proposal, the month that developed it), or
    None. Paths are built from these, never from what a client sent."""
    named = {
        v for entry in entries if cc.kind(entry) == cc.MONTH for v in (entry.get("proposed"), entry.get("champion"))
    }
    found = next((name for name in named if name and name == version), None)
    return (found, (cc.proposal_of(entries, found) or {}).get("month")) if found else None


def uploaders(audit_entries: list[dict[str, Any]], month: str) -> set[str]:
    """Every portal user who landed a file for the month, according to the portal's audit log."""
    return {
        entry["user"]
        for entry in audit_entries
        if entry.get("action") == "upload" and entry.get("outcome") == "landed" and entry.get("month") == month
    }


def second_person_refusal(pending: dict[str, Any], user: str, audit_entries: list[dict[str, Any]]) -> str | None:
    """Why the user may not decide the pending candidate (SR 11-7: independent of its development), or None."""
    if user in (pending.get("requested_by") or []):
        return f"{user} asked for this development: a second person decides"
    month = pending["month"]
    if user in uploaders(audit_entries, month):
        return (
            f"{user} uploaded the landing file of {month}, the candidate's development month: a second person decides"
        )
    return None


def awaiting_months(entries: list[dict[str, Any]]) -> set[str]:
    """Months whose newest model decision proposed the candidate that still awaits approval."""
    pending = cc.fold(entries).pending
    if pending is None:
        return set()
    newest = {entry["month"]: entry for entry in entries if cc.kind(entry) == cc.MONTH}
    return {
        month
        for month, entry in newest.items()
        if _dict(entry.get("approval")).get("status") == cc.AWAITING and entry.get("proposed") == pending["proposed"]
    }
