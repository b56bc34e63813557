"""The underwriters' pages: the queue of referred applications, one application with the decision form, the
lookup of any logged decision (to override an automatic approve or decline) and the decision itself."""

from dataclasses import replace
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from credit_assets.core.decisions.log import (
    UNDERWRITER_REASONS,
    DecisionLogError,
    LiveDecision,
    Underwriting,
    notice_deadline,
)
from credit_assets.core.decisions.notices import underwriter_reasons
from credit_assets.portal import referrals
from credit_assets.portal.audit import AuditEvent, bounded
from credit_assets.portal.users import User
from credit_assets.portal.web import (
    Portal,
    Refused,
    audit,
    check_body_size,
    checked_form,
    current_user,
    page,
    portal_of,
    require_audit_log,
)

ACTION = "underwriting"  # the audited action of a decision
VIEW_ACTION = "referrals"  # of the pages
QUEUE_LIMIT = 200
MAX_QUERY = 40
MIN_COMMENT, MAX_COMMENT = 10, 2000
DECISION_BODY_BYTES = 32 * 1024  # the CSRF token, the choices and a comment of MAX_COMMENT characters, URL-encoded
NOTICE = "underwriting_notice"  # the session key of the confirmation the queue shows once

router = APIRouter()


def _now(portal: Portal) -> datetime:
    return datetime.fromtimestamp(portal.clock(), UTC)


def _underwriter(request: Request, action: str = VIEW_ACTION, detail: str = "") -> User:
    """The logged-in underwriter; anybody else is refused (audited): the pages hold applicants' personal data."""
    user = current_user(request)
    if not user.role.can_underwrite:
        audit(request, AuditEvent(user.name, action, f"refused: {user.role.value} role", detail=detail))
        raise Refused(
            403, "Underwriters only", f"{user.name} is a {user.role.value} user: only underwriters see applications."
        )
    return user


def _checked_id(request: Request, user: User, decision_id: str, action: str = VIEW_ACTION) -> str:
    """A decision ID as the log makes them (32 hex digits), checked before any lookup; else 404, audited."""
    if not referrals.DECISION_ID.fullmatch(decision_id):
        audit(request, AuditEvent(user.name, action, "refused: malformed decision ID", detail=bounded(decision_id, 40)))
        raise Refused(404, "Unknown decision", "A decision ID is 32 hexadecimal digits, as the decision log gives it.")
    return decision_id


def _logged(request: Request, user: User, decision_id: str) -> LiveDecision:
    decision = portal_of(request).decision_log.get(decision_id)
    if decision is None:
        audit(request, AuditEvent(user.name, VIEW_ACTION, "refused: unknown decision", detail=decision_id))
        raise Refused(404, "Unknown decision", f"The decision log holds no decision {decision_id}.")
    return decision


@router.get("/referrals")
def queue_page(request: Request) -> Response:
    """The pending referrals, oldest first, with those waiting too long and those near their notice deadline."""
    user = _underwriter(request)
    return _queue_page(request, user)


def _queue_page(request: Request, user: User, status_code: int = 200, **context: object) -> Response:
    portal = portal_of(request)
    pending = portal.decision_log.pending_referrals(QUEUE_LIMIT)
    found = referrals.queue(pending, _now(portal), portal.settings.referral_alert_hours, QUEUE_LIMIT)
    notice = request.session.pop(NOTICE, "")
    context = {"queue": found, "notice": notice, "warning_days": referrals.DEADLINE_WARNING_DAYS, **context}
    return page(request, "referrals.html", status_code, **context)


@router.get("/referrals/find")
def find(request: Request, q: str = "") -> Response:
    """Open a logged decision by its ID, or list an application's decisions by its ID (SK_ID_CURR)."""
    user = _underwriter(request)
    query = q.strip()
    if referrals.DECISION_ID.fullmatch(query):
        return RedirectResponse(f"/referrals/{query}", status_code=303)
    if len(query) > MAX_QUERY or not referrals.APPLICATION_ID.fullmatch(query):
        audit(request, AuditEvent(user.name, VIEW_ACTION, "refused: malformed lookup", detail=bounded(query, 40)))
        message = "Give a decision ID (32 hexadecimal digits) or an application ID (digits only)."
        return _queue_page(request, user, 400, lookup_error=message, query=bounded(query, MAX_QUERY))
    portal = portal_of(request)
    decisions = list(portal.decision_log.by_application([int(query)]).values())  # the log decides one once
    detail = f"lookup of application {query}: {len(decisions)} decision(s)"  # who looked whom up, as for an opening
    audit(request, AuditEvent(user.name, VIEW_ACTION, "ok", detail=detail))
    shown = [referrals.referral(d, _now(portal), portal.settings.referral_alert_hours) for d in decisions]
    return _queue_page(request, user, found=shown, query=query)


@router.get("/referrals/{decision_id}")
def application_page(request: Request, decision_id: str) -> Response:
    """One logged decision in full with the form; opening an applicant's data is audited."""
    user = _underwriter(request, detail=bounded(decision_id, 40) or "")
    decision = _logged(request, user, _checked_id(request, user, decision_id))
    audit(request, AuditEvent(user.name, VIEW_ACTION, "ok", decision.month, detail=_about(decision)))
    return _application_page(request, decision)


def _application_page(request: Request, decision: LiveDecision) -> Response:
    portal = portal_of(request)
    entry = portal.decision_log.underwriting_of([decision.decision_id]).get(decision.decision_id)
    shown = referrals.referral(decision, _now(portal), portal.settings.referral_alert_hours, full=True)
    context = {
        "referral": shown,
        "entry": entry,
        "entry_reason": UNDERWRITER_REASONS[entry.reason_code].label if entry else "",
        "notice": notice_of(decision, entry),
        "offered": referrals.offered_decisions(decision.decision),
        "reasons": referrals.reasons_by_decision(),
        "limits": {"min": MIN_COMMENT, "max": MAX_COMMENT},
    }
    return page(request, "referral.html", **context)


def notice_of(decision: LiveDecision, entry: Underwriting | None) -> dict[str, object] | None:
    """The adverse-action notice an underwriter's decline owes the applicant now: its date and reasons, the
    underwriter's statement first (the monthly notices asset records the same)."""
    if entry is None or entry.final_decision != "decline":
        return None
    reasons = [reason for reason in underwriter_reasons(entry.reason_code, list(decision.reasons)) if reason]
    return {"date": entry.decided_at[:10], "reasons": reasons, "deadline": notice_deadline(decision.decided_at)}


def _about(decision: LiveDecision) -> str:
    return f"decision {decision.decision_id}, application {decision.application_id}"


@router.post("/referrals/{decision_id}/decision")
async def decide(request: Request, decision_id: str) -> Response:
    """An underwriter's final decision. Role, decision ID and body size before the form is read, then the CSRF
    token, the choices and the comment, then the log; every refusal and every decision is audited."""
    user = current_user(request)
    event = AuditEvent(user.name, ACTION, "", detail=f"decision {bounded(decision_id, 40)}")
    _underwriter(request, ACTION, event.detail)
    _checked_id(request, user, decision_id, ACTION)
    try:
        check_body_size(request, DECISION_BODY_BYTES, "An underwriting form")
    except Refused as refusal:
        audit(request, replace(event, outcome=f"refused: {refusal.title.lower()}"))
        raise
    form = await checked_form(request, user, ACTION)  # audits its own refusals
    choice = (form.get("final_decision"), form.get("reason_code"), form.get("comment"))
    try:
        entry, decision = await run_in_threadpool(_underwrite, request, user, decision_id, *choice)
    except Refused as refusal:
        detail = f"{event.detail}: {bounded(str(choice[0]), 20)} ({bounded(str(choice[1]), 40)})"
        audit(request, replace(event, outcome=f"refused: {refusal.title.lower()}", detail=detail))
        raise
    audit(request, AuditEvent(user.name, ACTION, "ok", decision.month, detail=_decided(entry, decision)))
    request.session[NOTICE] = referrals.recorded(entry, decision.application_id)
    return RedirectResponse("/referrals", status_code=303)


def _decided(entry: Underwriting, decision: LiveDecision) -> str:
    """The audit line's detail; the comment stays in the decision log (it may describe the applicant)."""
    override = f", override of the automatic {entry.automatic_decision}" if entry.override else ""
    return f"{_about(decision)}: {entry.final_decision} ({entry.reason_code}){override}"


def _checked_choice(final: object, reason_code: object, comment: object) -> tuple[str, str, str]:
    """The final decision, a reason that fits it and a comment of the allowed length; else 400."""
    if final not in referrals.FINAL_DECISIONS:
        raise Refused(400, "Unknown decision", "A final decision is approve or decline.")
    reason = UNDERWRITER_REASONS.get(reason_code) if isinstance(reason_code, str) else None
    if reason is None or reason.final_decision != final:
        raise Refused(
            400, "Reason does not fit", f"Pick a reason to {final}: {bounded(repr(reason_code), 40)} is not one."
        )
    if not isinstance(comment, str) or not MIN_COMMENT <= len(comment.strip()) <= MAX_COMMENT:
        raise Refused(400, "Comment needed", f"Say why in a comment of {MIN_COMMENT} to {MAX_COMMENT:,} characters.")
    return str(final), reason.code, comment.strip()


def _underwrite(
    request: Request, user: User, decision_id: str, final: object, reason_code: object, comment: object
) -> tuple[Underwriting, LiveDecision]:
    """Check the choices and the decision's state, then let the log append (its unique key settles a race)."""
    final, reason_code, comment = _checked_choice(final, reason_code, comment)
    log = portal_of(request).decision_log
    decision = log.get(decision_id)
    if decision is None:
        raise Refused(404, "Unknown decision", f"The decision log holds no decision {decision_id}.")
    _refuse_decided(log.underwriting_of([decision_id]).get(decision_id), decision)
    if decision.decision == final:
        raise Refused(400, "Not an override", f"The application was already {final}d automatically: nothing to do.")
    require_audit_log(request)  # a decision must never stand unrecorded
    try:
        return log.underwrite(decision_id, user.name, final, reason_code, comment), decision
    except DecisionLogError as error:
        _refuse_decided(log.underwriting_of([decision_id]).get(decision_id), decision)  # a race lost to another
        raise Refused(400, "Decision refused", f"{error}. Nothing was recorded.") from error


def _refuse_decided(entry: Underwriting | None, decision: LiveDecision) -> None:
    if entry is not None:
        raise Refused(
            409,
            "Already decided",
            f"Application {decision.application_id} was decided by {entry.underwriter} at {entry.decided_at} "
            f"({entry.final_decision}). Nothing was recorded.",
        )
