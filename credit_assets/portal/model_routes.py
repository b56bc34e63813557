"""The Models page: the champion in force beside the candidate awaiting approval, a model_risk user's approval or
rejection of it, and the files the page links to (each found through the promotion log, never by a client's name)."""

import hashlib
from dataclasses import replace

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from credit_assets.core.modeling import change_control as cc
from credit_assets.core.modeling.registry import ModelRegistry, RegistryError
from credit_assets.core.store import MissingArtifact
from credit_assets.portal import models
from credit_assets.portal.audit import AuditEvent, AuditLogBroken, bounded
from credit_assets.portal.users import User
from credit_assets.portal.web import (
    Portal,
    Refused,
    audit,
    audit_log_damaged,
    check_body_size,
    checked_form,
    current_user,
    page,
    portal_of,
    require_audit_log,
)

ACTION = "model decision"
DECISION_BODY_BYTES = 32 * 1024  # the CSRF token, the decision and a comment of MAX_COMMENT characters, URL-encoded
MAX_VERSION = 80  # a version is a family and 16 hex digits

router = APIRouter()


def _registry(portal: Portal) -> ModelRegistry:
    return ModelRegistry(portal.settings.store.blobs)


def _promotion_log_damaged(error: RegistryError) -> Refused:
    return Refused(503, "Promotion log damaged", f"The model registry's promotion log failed its check: {error}")


def _models_page(request: Request, user: User, status_code: int = 200, notice: str = "") -> Response:
    """The page, with why the user may not decide when a second person must (so nobody learns it from a 403)."""
    portal = portal_of(request)
    try:
        found = models.models_page(_registry(portal), portal.settings.store)
    except RegistryError as error:
        raise _promotion_log_damaged(error) from error
    blocked = None
    if found.pending and user.role.can_decide_models:
        blocked = models.second_person_refusal(found.pending, user.name, _audit_entries(portal))
    limits = {"min": cc.MIN_COMMENT, "max": cc.MAX_COMMENT}
    context = {"models": found, "notice": notice, "blocked": blocked, "limits": limits, "cell": models.text}
    return page(request, "models.html", status_code, **context)


def _audit_entries(portal: Portal) -> list[dict]:
    try:
        return portal.audit_log.entries()
    except AuditLogBroken as broken:
        raise audit_log_damaged(str(broken)) from broken


@router.get("/models")
def models_page(request: Request) -> Response:
    """The champion and the candidate side by side and the history of decisions; any logged-in user may look."""
    return _models_page(request, current_user(request))


@router.post("/models/{version}/decision")
async def decide(request: Request, version: str) -> Response:
    """A model_risk user's approval or rejection of the candidate awaiting it, with a comment. Role and body size
    before the form is read, then the CSRF token; every refusal and every decision is audited."""
    user = current_user(request)
    event = AuditEvent(user.name, ACTION, "", file=bounded(version, MAX_VERSION))
    try:
        if not user.role.can_decide_models:
            raise Refused(
                403, "Decision not allowed", f"{user.name} is a {user.role.value} user: only model_risk users decide."
            )
        check_body_size(request, DECISION_BODY_BYTES, "A decision's form")
    except Refused as refusal:
        audit(request, replace(event, outcome=f"refused: {refusal.title.lower()}"))
        raise
    form = await checked_form(request, user, ACTION)  # audits its own refusals
    decision, comment = form.get("decision"), form.get("comment")
    try:
        entry = await run_in_threadpool(_decide, request, user, version, decision, comment)
    except Refused as refusal:
        detail = f"decision {bounded(str(decision), 20)}"
        audit(request, replace(event, outcome=f"refused: {refusal.title.lower()}", detail=detail))
        raise
    audit(
        request,
        AuditEvent(user.name, ACTION, entry["decision"], entry["month"], entry["version"], detail=entry["comment"]),
    )
    return _models_page(request, user, notice=_decided(entry))


def _decide(request: Request, user: User, version: str, decision: object, comment: object) -> dict:
    """Check what the portal knows (the decision, the comment, the version awaiting, a second person), then let the
    registry check and append under the log's lock (a decision that raced this one is refused there)."""
    if decision not in (cc.APPROVE, cc.REJECT):
        raise Refused(400, "Unknown decision", f"A decision is {cc.APPROVE} or {cc.REJECT}.")
    if not isinstance(comment, str) or not cc.MIN_COMMENT <= len(comment.strip()) <= cc.MAX_COMMENT:
        raise Refused(
            400, "Comment needed", f"Say why in a comment of {cc.MIN_COMMENT} to {cc.MAX_COMMENT:,} characters."
        )
    portal = portal_of(request)
    registry = _registry(portal)
    try:
        pending = registry.state().pending
        if pending is None or pending["proposed"] != version:
            now = (
                f"the candidate awaiting approval is {pending['proposed']}"
                if pending
                else "no candidate awaits approval"
            )
            raise Refused(
                409, "Not awaiting approval", f"{bounded(repr(version), 40)} is not awaiting approval: {now}."
            )
        refusal = models.second_person_refusal(pending, user.name, _audit_entries(portal))
        if refusal:
            raise Refused(403, "Second person needed", f"{refusal}.")
        if decision == cc.APPROVE:
            _verified(registry, pending["proposed"])
        require_audit_log(request)  # a decision must never stand unrecorded
        return registry.decide(pending["proposed"], str(decision), user.name, user.role.value, comment)
    except cc.ApprovalRefused as error:
        raise Refused(409, "Decision refused", f"{error}. Reload the page.") from error
    except RegistryError as error:
        raise _promotion_log_damaged(error) from error


def _verified(registry: ModelRegistry, version: str) -> None:
    """Never a champion whose files are missing or no longer match their hashes."""
    try:
        registry.verify(version)
    except (RegistryError, MissingArtifact) as error:
        raise Refused(409, "Model files damaged", f"{error} Nothing was approved.") from error


def _decided(entry: dict) -> str:
    if entry["decision"] == cc.APPROVE:
        return (
            f"approved: {entry['version']} becomes champion; the next month's model run scores with it "
            "(materialise the month again to rescore a month that waited)"
        )
    kept = entry.get("replaces") or "no champion"
    return f"rejected: {entry['version']}; {kept} stays in force until a new candidate is approved"


def _logged(request: Request, user: User, version: str, what: str) -> tuple[str, str | None]:
    """The log's version and development month, or a refusal (audited) for a version the log does not name."""
    try:
        found = models.logged_version(_registry(portal_of(request)).promotions(), version)
    except RegistryError as error:
        raise _promotion_log_damaged(error) from error
    if found is None:
        audit(request, AuditEvent(user.name, "download", "refused: unknown model version", file=what, detail=version))
        raise Refused(404, "Unknown model version", f"The promotion log names no version {bounded(repr(version), 40)}.")
    return found


@router.get("/models/{version}/lda_frontier.png")
def frontier_chart(request: Request, version: str) -> Response:
    """The LDA frontier chart of the month that developed a version the log names."""
    user = current_user(request)
    _, month = _logged(request, user, version, models.FRONTIER_FILE)
    chart = models.frontier_chart(portal_of(request).settings.store, month) if month else None
    if chart is None:
        audit(request, AuditEvent(user.name, "download", "refused: not produced", month, models.FRONTIER_FILE))
        raise Refused(404, "No frontier chart", f"No LDA frontier chart was stored for {bounded(version, 40)}.")
    return Response(chart, media_type="image/png")


@router.get("/models/{version}/documentation.html")
def documentation(request: Request, version: str) -> Response:
    """A version's documentation pack; audited with the file's hash, as the months' downloads are."""
    user = current_user(request)
    logged, month = _logged(request, user, version, "documentation.html")
    name = f"{logged}.html"
    try:
        pack = portal_of(request).settings.store.read_documentation(logged)
    except MissingArtifact:
        audit(request, AuditEvent(user.name, "download", "refused: not produced", month, name))
        raise Refused(404, "No documentation pack", f"No documentation pack was stored for {logged}.") from None
    audit(request, AuditEvent(user.name, "download", "ok", month, name, hashlib.sha256(pack).hexdigest()))
    return Response(pack, media_type="text/html", headers={"Content-Disposition": f'attachment; filename="{name}"'})
