"""The portal's pages: login and logout, the months with their state, upload, downloads."""

from dataclasses import replace
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from credit_assets.core.months import landing_file_name
from credit_assets.core.store import sha256_of
from credit_assets.portal import status, upload
from credit_assets.portal.audit import AuditEvent
from credit_assets.portal.security import CSRF_FIELD, new_csrf_token
from credit_assets.portal.users import User
from credit_assets.portal.web import (
    PACKAGE,
    Portal,
    Refused,
    audit,
    checked_form,
    current_user,
    page,
    portal_of,
)

IN_PROGRESS_STATES = {"landed", "queued", "validating", "scoring"}
DOWNLOADS = {  # file -> (link text, media type)
    "forecasts.csv": ("forecasts", "text/csv"),
    "notices.csv": ("notices", "text/csv"),
    "documentation.html": ("documentation", "text/html"),
}

router = APIRouter()


@router.get("/login")
def login_page(request: Request) -> Response:
    return page(request, "login.html")


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the password (after the CSRF token and the throttle); a fresh session for the user."""
    form, throttle = await checked_form(request, None, "login"), portal_of(request).throttle
    name = str(form.get("username", ""))
    if throttle.blocked(name):
        audit(request, AuditEvent(name, "login", "refused: too many wrong passwords"))
        wait = f"Too many wrong passwords: try again in {throttle.window_seconds / 60:.0f} minutes."
        return page(request, "login.html", 429, error=wait)
    users = portal_of(request).settings.users
    user = await run_in_threadpool(users.authenticate, name, str(form.get("password", "")))
    audit(request, AuditEvent(name, "login", "ok" if user else "refused: wrong user name or password"))
    if user is None:
        throttle.failed(name)
        return page(request, "login.html", 401, error="Wrong user name or password.")
    throttle.succeeded(name)
    request.session.clear()  # no session data or CSRF token survives from before the login
    request.session.update({"user": user.name, CSRF_FIELD: new_csrf_token()})
    return RedirectResponse("/", status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    user = current_user(request)
    await checked_form(request, user, "logout")
    audit(request, AuditEvent(user.name, "logout", "ok"))
    request.session.clear()
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
        dagster_url=portal.settings.dagster_url,
        downloads=DOWNLOADS,
        max_upload_mib=portal.settings.max_upload_bytes >> 20,
    )


@router.post("/upload")
async def upload_month(request: Request) -> Response:
    """Role, CSRF token, month, file type and replacement first; then stage, pre-check and land in a thread."""
    user = current_user(request)
    if not user.role.can_upload:  # refused before the body is read
        audit(request, AuditEvent(user.name, "upload", "refused: viewer role"))
        raise Refused(403, "Upload not allowed", f"{user.name} is a viewer: viewers download, uploaders upload.")
    form = await checked_form(request, user, "upload")
    month, sent = form.get("month"), form.get("file")
    try:
        _check_upload(portal_of(request), month, sent, form.get("replace") == "yes")
    except Refused as refusal:
        audit(request, AuditEvent(user.name, "upload", f"refused: {refusal.title.lower()}", str(month)))
        raise
    return await run_in_threadpool(_land, request, user, str(month), sent)


def _check_upload(portal: Portal, month: object, sent: object, replace_confirmed: bool) -> None:
    month = portal.checked_month(month)
    if not isinstance(sent, UploadFile) or not sent.filename:
        raise Refused(400, "No file", "Choose the month's CSV file to upload.")
    if not sent.filename.lower().endswith(".csv"):
        raise Refused(415, "Not a CSV file", "The portal takes the month's applications as a .csv file.")
    if month in status.known_months(portal.instance, portal.settings.store, [month]) and not replace_confirmed:
        raise Refused(
            409,
            "Month already landed",
            f"{month} already has a landed file. Tick 'replace the landed file' to replace it (for example to add "
            "its labels); its outputs are then recomputed from the new file.",
        )


def _land(request: Request, user: User, month: str, sent: UploadFile) -> Response:
    """Stage the file, pre-check it and land it when it passes; the result page either way."""
    settings = portal_of(request).settings
    event = AuditEvent(user.name, "upload", "", month, landing_file_name(month), detail=f"sent as {sent.filename!r}")
    try:
        with upload.staged_upload(settings.store, month, sent.file, settings.max_upload_bytes) as staged:
            digest = sha256_of(staged)
            result = upload.precheck_upload(settings.store, staged, month)
            if result.passed:
                upload.land(settings.store, staged, month)
    except upload.UploadTooLarge as error:
        audit(request, replace(event, outcome="refused: over the size limit"))
        raise Refused(413, "File too large", f"{error}. Nothing was landed.") from error
    outcome = "landed" if result.passed else f"refused: {len(result.problems)} problem(s)"
    audit(request, replace(event, outcome=outcome, file_sha256=digest))
    return page(request, "upload.html", 200 if result.passed else 422, month=month, result=result, sha256=digest)


@router.get("/months/{month}/{name}")
def download(request: Request, month: str, name: str) -> Response:
    """One of the month's outputs, by a name from DOWNLOADS; every download is audited with the file's hash."""
    user, portal = current_user(request), portal_of(request)
    month = portal.checked_month(month)
    if name not in DOWNLOADS:
        raise Refused(404, "Unknown download", f"The portal offers {', '.join(DOWNLOADS)} per month.")
    path = _download_path(portal, month, name)
    if path is None or not path.is_file():
        audit(request, AuditEvent(user.name, "download", "refused: not produced yet", month, name))
        raise Refused(404, "Not there yet", status.not_produced(month, DOWNLOADS[name][0]))
    audit(request, AuditEvent(user.name, "download", "ok", month, name, sha256_of(path)))
    return FileResponse(path, media_type=DOWNLOADS[name][1], filename=f"{Path(name).stem}_{month}{path.suffix}")


def _download_path(portal: Portal, month: str, name: str) -> Path | None:
    store = portal.settings.store
    if name == "forecasts.csv":
        return store.forecasts_dir / f"forecasts_{month}.csv"
    if name == "notices.csv":
        return store.notices_dir / f"notices_{month}.csv"
    version = status.month_status(portal.instance, store, month, portal.hashes).model_version
    return store.documentation_file(version) if version else None


@router.get("/portal.css")
def stylesheet() -> FileResponse:
    return FileResponse(PACKAGE / "portal.css", media_type="text/css")
