"""The portal's pages: login and logout, the months with their state, upload, downloads."""

import hashlib
from dataclasses import replace
from math import ceil
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from credit_assets.core.blobs import sha256_of
from credit_assets.core.modeling.registry import ModelRegistry, RegistryError
from credit_assets.core.months import landing_file_name
from credit_assets.core.store import FORECASTS_EXPORT, NOTICES_EXPORT, MissingArtifact
from credit_assets.portal import models, status, summary, upload
from credit_assets.portal.audit import AuditEvent
from credit_assets.portal.security import CSRF_FIELD, new_csrf_token
from credit_assets.portal.users import NAME_PATTERN, User
from credit_assets.portal.web import (
    PACKAGE,
    SESSION_ID,
    Portal,
    Refused,
    audit,
    checked_form,
    client_address,
    current_user,
    page,
    portal_of,
    require_audit_log,
)

IN_PROGRESS_STATES = {"landed", "queued", "validating", "scoring"}
DOWNLOADS = {  # file -> (link text, media type)
    "forecasts.csv": ("forecasts", "text/csv"),
    "notices.csv": ("notices", "text/csv"),
    "documentation.html": ("documentation", "text/html"),
}
EXPORTS = {"forecasts.csv": FORECASTS_EXPORT, "notices.csv": NOTICES_EXPORT}  # the downloads that are exports

router = APIRouter()


@router.get("/login")
def login_page(request: Request) -> Response:
    return page(request, "login.html")


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the password (after the CSRF token and the throttle); a new server-side session for the user."""
    form, portal = await checked_form(request, None, "login"), portal_of(request)
    name, client = str(form.get("username", "")), client_address(request)
    throttle_key = name if NAME_PATTERN.fullmatch(name) else ""  # one key for every malformed name
    wait = portal.throttle.wait_seconds(throttle_key, client)
    if wait > 0:
        user_name, detail = _tried(portal, name)
        audit(request, AuditEvent(user_name, "login", "refused: too many wrong passwords", detail=detail), True)
        message = f"Too many wrong passwords from this address: try again in {_duration(wait)}."
        return page(request, "login.html", 429, error=message)
    user = await run_in_threadpool(portal.settings.users.authenticate, name, str(form.get("password", "")))
    if user is None:
        portal.throttle.failed(throttle_key, client)
        user_name, detail = _tried(portal, name)
        audit(request, AuditEvent(user_name, "login", "refused: wrong user name or password", detail=detail), True)
        return page(request, "login.html", 401, error="Wrong user name or password.")
    audit(request, AuditEvent(user.name, "login", "ok"))
    portal.throttle.succeeded(throttle_key, client)
    request.session.clear()  # no session data or CSRF token survives from before the login
    request.session.update({SESSION_ID: portal.sessions.create(user.name), CSRF_FIELD: new_csrf_token()})
    return RedirectResponse("/", status_code=303)


def _tried(portal: Portal, name: str) -> tuple[str | None, str]:
    """(user, detail) of a refused login for the audit log. The name is logged only when it is a portal user's: an
    unknown name is often a password typed into the wrong field, and a secret never reaches the log."""
    if NAME_PATTERN.fullmatch(name) and portal.settings.users.get(name):
        return name, ""
    return None, f"an unknown or malformed user name ({len(name):,} characters) was tried"


def _duration(seconds: float) -> str:
    amount, unit = (ceil(seconds), "second") if seconds < 120 else (ceil(seconds / 60), "minute")
    return f"{amount} {unit}{'s' if amount > 1 else ''}"


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session on the server: a copy of the cookie opens nothing afterwards."""
    user = current_user(request)
    await checked_form(request, user, "logout")
    portal_of(request).sessions.revoke(request.session[SESSION_ID])  # first: a damaged audit log must not keep it
    request.session.clear()
    audit(request, AuditEvent(user.name, "logout", "ok"))
    return RedirectResponse("/login", status_code=303)


@router.get("/")
def months(request: Request) -> Response:
    """Every landed or materialised month with its state, newest first, and the upload form for uploaders."""
    current_user(request)
    portal = portal_of(request)
    partitions, store = portal.partitions, portal.settings.store
    shown = status.known_months(portal.instance, store, partitions)
    statuses = [status.month_status(portal.instance, store, month, portal.hashes) for month in shown]
    following = partitions[partitions.index(shown[0]) + 1] if shown and shown[0] != partitions[-1] else None
    return page(
        request,
        "months.html",
        statuses=statuses,
        partitions=partitions[::-1],
        suggested=following or partitions[-1],
        refresh=any(s.state in IN_PROGRESS_STATES for s in statuses),
        trends=summary.trends(portal.instance, shown),
        sparkline=summary.sparkline,
        dagster_url=portal.settings.dagster_url,
        downloads=DOWNLOADS,
        max_upload_mib=portal.settings.max_upload_bytes >> 20,
        awaiting=_awaiting_approval(portal),
    )


def _awaiting_approval(portal: Portal) -> set[str]:
    """Months whose proposed candidate awaits a model_risk decision; none while the promotion log fails its check
    (the Models page says why)."""
    try:
        return models.awaiting_months(ModelRegistry(portal.settings.store.blobs).promotions())
    except RegistryError:
        return set()


@router.post("/upload")
async def upload_month(request: Request) -> Response:
    """Role, CSRF token, month and file type first; then, holding the month's lock, the replace check, staging,
    pre-check and landing, in a thread. Every refusal is audited."""
    user = current_user(request)
    if not user.role.can_upload:  # refused before the body is read
        audit(request, AuditEvent(user.name, "upload", f"refused: {user.role.value} role"))
        raise Refused(403, "Upload not allowed", f"{user.name} is a {user.role.value}: only uploaders upload.")
    form = await checked_form(request, user, "upload")
    month, sent = form.get("month"), form.get("file")
    try:
        _check_upload(portal_of(request), month, sent)
        require_audit_log(request)  # a file must never land unrecorded
        return await run_in_threadpool(_land, request, user, str(month), sent, form.get("replace") == "yes")
    except Refused as refusal:
        audit(request, AuditEvent(user.name, "upload", f"refused: {refusal.title.lower()}", str(month)))
        raise


def _check_upload(portal: Portal, month: object, sent: object) -> None:
    portal.checked_month(month)
    if not isinstance(sent, UploadFile) or not sent.filename:
        raise Refused(400, "No file", "Choose the month's CSV file to upload.")
    if not sent.filename.lower().endswith(".csv"):
        raise Refused(415, "Not a CSV file", "The portal takes the month's applications as a .csv file.")


def _land(request: Request, user: User, month: str, sent: UploadFile, replace_confirmed: bool) -> Response:
    """Under the month's lock: refuse an unconfirmed replacement, stage, pre-check and land when it passes."""
    portal = portal_of(request)
    store = portal.settings.store
    event = AuditEvent(user.name, "upload", "", month, landing_file_name(month), detail=f"sent as {sent.filename!r}")
    try:
        with upload.month_lock(store, month):
            if month in status.known_months(portal.instance, store, [month]) and not replace_confirmed:
                raise Refused(
                    409,
                    "Month already landed",
                    f"{month} already has a landed file. Tick 'replace the landed file' to replace it (for example "
                    "to add its labels); its outputs are then recomputed from the new file.",
                )
            with upload.staged_upload(store, month, sent.file, portal.settings.max_upload_bytes) as staged:
                digest = sha256_of(staged)
                result = upload.precheck_upload(store, staged, month)
                if result.passed:
                    upload.land(store, staged, month)
    except upload.UploadUnderWay as error:
        raise Refused(409, "Upload under way", f"{error}. Nothing was landed: wait for it, then reload.") from error
    except upload.UploadTooLarge as error:
        raise Refused(413, "File too large", f"{error}. Nothing was landed.") from error
    outcome = "landed" if result.passed else f"refused: {len(result.problems)} problem(s)"
    audit(request, replace(event, outcome=outcome, file_sha256=digest))
    return page(request, "upload.html", 200 if result.passed else 422, month=month, result=result, sha256=digest)


@router.get("/months/{month}")
def month_summary(request: Request, month: str) -> Response:
    """One scored month for analysts: decisions, score chart, top reasons, checks that did not pass, trends."""
    user, portal = current_user(request), portal_of(request)
    store = portal.settings.store
    try:
        month = portal.checked_month(month)
        found = summary.month_summary(portal.instance, month, portal.settings.dagster_url)
        if found is None:
            raise Refused(404, "Not there yet", status.not_produced(month, "summary"))
    except Refused as refusal:
        audit(request, AuditEvent(user.name, "summary", f"refused: {refusal.title.lower()}", month))
        raise
    return page(
        request,
        "summary.html",
        summary=found,
        trends=summary.trends(portal.instance, status.known_months(portal.instance, store, portal.partitions)),
        sparkline=summary.sparkline,
        dagster_url=portal.settings.dagster_url,
    )


@router.get("/months/{month}/{name}")
def download(request: Request, month: str, name: str) -> Response:
    """One of the month's outputs, by a name from DOWNLOADS; every download is audited with the file's hash."""
    user, portal = current_user(request), portal_of(request)
    try:
        month = portal.checked_month(month)
        if name not in DOWNLOADS:
            raise Refused(404, "Unknown download", f"The portal offers {', '.join(DOWNLOADS)} per month.")
    except Refused as refusal:
        audit(request, AuditEvent(user.name, "download", f"refused: {refusal.title.lower()}", month, name))
        raise
    data = _download(portal, month, name)
    if data is None:
        audit(request, AuditEvent(user.name, "download", "refused: not produced yet", month, name))
        raise Refused(404, "Not there yet", status.not_produced(month, DOWNLOADS[name][0]))
    audit(request, AuditEvent(user.name, "download", "ok", month, name, hashlib.sha256(data).hexdigest()))
    filename = f"{Path(name).stem}_{month}{Path(name).suffix}"
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(data, media_type=DOWNLOADS[name][1], headers=disposition)


def _download(portal: Portal, month: str, name: str) -> bytes | None:
    """The stored bytes of one of the month's outputs, or None when it was not produced yet."""
    store = portal.settings.store
    try:
        if name in EXPORTS:
            return store.read_export(EXPORTS[name], month)
        version = status.month_status(portal.instance, store, month, portal.hashes).model_version
        return store.read_documentation(version) if version else None
    except MissingArtifact:
        return None


@router.get("/portal.css")
def stylesheet() -> FileResponse:
    return FileResponse(PACKAGE / "portal.css", media_type="text/css")
