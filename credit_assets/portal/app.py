"""The portal's web application: login, the months with their state, upload, downloads; server-rendered pages."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import dagster as dg
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData, UploadFile
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import Scope

from credit_assets.core.months import landing_file_name
from credit_assets.core.store import ArtifactStore, sha256_of
from credit_assets.defs.partitions import monthly_partitions
from credit_assets.portal import status, upload
from credit_assets.portal.audit import AuditEvent, AuditLog
from credit_assets.portal.security import (
    CSRF_FIELD,
    BodyLimit,
    LoginThrottle,
    SecurityHeaders,
    csrf_valid,
    new_csrf_token,
    session_secret,
)
from credit_assets.portal.users import User, UserStore

PACKAGE = Path(__file__).resolve().parent
SESSION_COOKIE = "credit_assets_portal"
IN_PROGRESS_STATES = {"landed", "queued", "validating", "scoring"}


@dataclass(frozen=True)
class PortalSettings:
    """Where the portal keeps and finds things, and its limits."""

    storage_root: Path
    dagster_url: str = "http://127.0.0.1:3000"
    max_upload_bytes: int = 512 << 20  # the 267,511-row history is about 140 MiB
    https_only: bool = False  # set behind a TLS-terminating proxy: cookies only over HTTPS, HSTS
    session_hours: int = 8

    @property
    def store(self) -> ArtifactStore:
        return ArtifactStore(self.storage_root.resolve())

    @property
    def users(self) -> UserStore:
        return UserStore(self.store.portal_users_file)

    @property
    def audit(self) -> AuditLog:
        return AuditLog(self.store.portal_audit_log)


class LoginRequired(Exception):
    """No logged-in user: the browser is sent to the login page."""


class Refused(Exception):
    """A request the portal turns down with a page that says why; nothing was changed."""

    def __init__(self, status_code: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status_code, self.title, self.message = status_code, title, message


DOWNLOADS = {  # file -> (link text, media type)
    "forecasts.csv": ("forecasts", "text/csv"),
    "notices.csv": ("notices", "text/csv"),
    "documentation.html": ("documentation", "text/html"),
}


def create_app(settings: PortalSettings, instance: dg.DagsterInstance | None = None) -> FastAPI:
    """The application; the Dagster instance is $DAGSTER_HOME's unless one is given."""
    templates = Jinja2Templates(directory=PACKAGE / "templates")
    partitions = monthly_partitions.get_partition_keys()
    throttle = LoginThrottle()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if instance is not None:
            app.state.instance = instance
            yield
            return
        with dg.DagsterInstance.get() as own:
            app.state.instance = own
            yield

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    def audit(request: Request | Scope, event: AuditEvent) -> None:
        scope = request.scope if isinstance(request, Request) else request
        client = scope.get("client")
        settings.audit.record(replace(event, client=client[0] if client else None))

    def refused_too_large(scope: Scope) -> None:
        audit(scope, AuditEvent(scope.get("session", {}).get("user"), "upload", "refused: over the size limit"))

    app.add_middleware(BodyLimit, file_limit_bytes=settings.max_upload_bytes, on_refused=refused_too_large)
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(settings.store.portal_dir / "session_secret"),
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_hours * 3600,
        same_site="strict",
        https_only=settings.https_only,
    )
    app.add_middleware(SecurityHeaders, https_only=settings.https_only)

    def page(request: Request, name: str, status_code: int = 200, **context: object) -> HTMLResponse:
        session = request.session
        session.setdefault(CSRF_FIELD, new_csrf_token())
        user = settings.users.get(session.get("user", ""))
        return templates.TemplateResponse(
            request, name, {"user": user, "csrf_token": session[CSRF_FIELD], **context}, status_code=status_code
        )

    @app.exception_handler(LoginRequired)
    async def to_login(_request: Request, _error: LoginRequired) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(Refused)
    async def refusal_page(request: Request, error: Refused) -> Response:
        return page(request, "message.html", error.status_code, title=error.title, message=error.message)

    def current_user(request: Request) -> User:
        user = settings.users.get(request.session.get("user", ""))
        if user is None:
            raise LoginRequired
        return user

    def checked_month(month: object) -> str:
        if month not in partitions:
            raise Refused(404, "Unknown month", f"{month!r} is not a month the pipeline scores ({partitions[0]} on).")
        return str(month)

    async def checked_form(request: Request, user: User | None, action: str) -> FormData:
        form = await request.form(max_files=1, max_fields=8)
        if not csrf_valid(request.session, form.get(CSRF_FIELD)):
            audit(request, AuditEvent(user.name if user else None, action, "refused: missing or wrong CSRF token"))
            raise Refused(
                403,
                "Form refused",
                "The form did not come from this portal's own page. Reload the page and send it again.",
            )
        return form

    @app.get("/login")
    def login_page(request: Request) -> Response:
        return page(request, "login.html")

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await checked_form(request, None, "login")
        name = str(form.get("username", ""))
        if throttle.blocked(name):
            audit(request, AuditEvent(name, "login", "refused: too many wrong passwords"))
            wait = f"Too many wrong passwords: try again in {throttle.window_seconds / 60:.0f} minutes."
            return page(request, "login.html", 429, error=wait)
        user = await run_in_threadpool(settings.users.authenticate, name, str(form.get("password", "")))
        audit(request, AuditEvent(name, "login", "ok" if user else "refused: wrong user name or password"))
        if user is None:
            throttle.failed(name)
            return page(request, "login.html", 401, error="Wrong user name or password.")
        throttle.succeeded(name)
        request.session.clear()  # a fresh session and CSRF token for the logged-in user
        request.session.update({"user": user.name, CSRF_FIELD: new_csrf_token()})
        return RedirectResponse("/", status_code=303)

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        user = current_user(request)
        await checked_form(request, user, "logout")
        audit(request, AuditEvent(user.name, "logout", "ok"))
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @app.get("/")
    def months(request: Request) -> Response:
        current_user(request)
        instance = request.app.state.instance
        shown = status.known_months(instance, settings.store, partitions)
        statuses = [status.month_status(instance, settings.store, month) for month in shown]
        following = partitions[partitions.index(shown[0]) + 1] if shown and shown[0] != partitions[-1] else None
        return page(
            request,
            "months.html",
            statuses=statuses,
            partitions=partitions[::-1],
            suggested=following or partitions[-1],
            refresh=any(s.state in IN_PROGRESS_STATES for s in statuses),
            dagster_url=settings.dagster_url,
            downloads=DOWNLOADS,
            max_upload_mib=settings.max_upload_bytes >> 20,
        )

    @app.post("/upload")
    async def upload_month(request: Request) -> Response:
        user = current_user(request)
        if not user.role.can_upload:  # refused before the body is read
            audit(request, AuditEvent(user.name, "upload", "refused: viewer role"))
            raise Refused(403, "Upload not allowed", f"{user.name} is a viewer: viewers download, uploaders upload.")
        form = await checked_form(request, user, "upload")
        month, sent = form.get("month"), form.get("file")
        refusal = _upload_refusal(month, sent, form.get("replace") == "yes")
        if refusal:
            audit(request, AuditEvent(user.name, "upload", f"refused: {refusal.title.lower()}", str(month)))
            raise refusal
        return await run_in_threadpool(land_upload, request, user, str(month), sent)

    def _upload_refusal(month: object, sent: object, replace: bool) -> Refused | None:
        if month not in partitions:
            return Refused(404, "Unknown month", f"{month!r} is not a month the pipeline scores ({partitions[0]} on).")
        if not isinstance(sent, UploadFile) or not sent.filename:
            return Refused(400, "No file", "Choose the month's CSV file to upload.")
        if not sent.filename.lower().endswith(".csv"):
            return Refused(415, "Not a CSV file", "The portal takes the month's applications as a .csv file.")
        if month in status.known_months(app.state.instance, settings.store, [str(month)]) and not replace:
            return Refused(
                409,
                "Month already landed",
                f"{month} already has a landed file. Tick 'replace the landed file' to replace it (for example to add "
                "its labels); its outputs are then recomputed from the new file.",
            )
        return None

    def land_upload(request: Request, user: User, month: str, sent: UploadFile) -> Response:
        event = AuditEvent(
            user.name, "upload", "", month, landing_file_name(month), detail=f"sent as {sent.filename!r}"
        )
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

    @app.get("/months/{month}/{name}")
    def download(request: Request, month: str, name: str) -> Response:
        user = current_user(request)
        month = checked_month(month)
        if name not in DOWNLOADS:
            raise Refused(404, "Unknown download", f"The portal offers {', '.join(DOWNLOADS)} per month.")
        path = _download_path(request, month, name)
        if path is None or not path.is_file():
            audit(request, AuditEvent(user.name, "download", "refused: not produced yet", month, name))
            raise Refused(404, "Not there yet", f"{month} has no {DOWNLOADS[name][0]} yet: it is produced once scored.")
        audit(request, AuditEvent(user.name, "download", "ok", month, name, sha256_of(path)))
        return FileResponse(path, media_type=DOWNLOADS[name][1], filename=f"{Path(name).stem}_{month}{path.suffix}")

    def _download_path(request: Request, month: str, name: str) -> Path | None:
        store = settings.store
        if name == "forecasts.csv":
            return store.forecasts_dir / f"forecasts_{month}.csv"
        if name == "notices.csv":
            return store.notices_dir / f"notices_{month}.csv"
        version = status.month_status(request.app.state.instance, store, month).model_version
        return store.documentation_file(version) if version else None

    @app.get("/portal.css")
    def stylesheet() -> FileResponse:
        return FileResponse(PACKAGE / "portal.css", media_type="text/css")

    return app
