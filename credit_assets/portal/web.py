"""What every page handler shares: the portal's context, the logged-in user, checked forms, pages and refusals."""

from dataclasses import dataclass, field, replace
from pathlib import Path

import dagster as dg
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData
from starlette.types import Scope

from credit_assets.core.store import ArtifactStore
from credit_assets.portal.audit import AuditEvent, AuditLog
from credit_assets.portal.security import CSRF_FIELD, LoginThrottle, csrf_valid, new_csrf_token
from credit_assets.portal.status import FileHashes
from credit_assets.portal.users import User, UserStore

PACKAGE = Path(__file__).resolve().parent


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


@dataclass
class Portal:
    """The application's state: settings, the months it takes, templates, throttle, file hashes, the instance."""

    settings: PortalSettings
    partitions: list[str]
    templates: Jinja2Templates = field(default_factory=lambda: Jinja2Templates(directory=PACKAGE / "templates"))
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    hashes: FileHashes = field(default_factory=FileHashes)  # of the landing files, kept while they are unchanged
    instance: dg.DagsterInstance | None = None  # set while the application runs

    def checked_month(self, month: object) -> str:
        if month not in self.partitions:
            first = self.partitions[0]
            raise Refused(404, "Unknown month", f"{month!r} is not a month the pipeline scores ({first} on).")
        return str(month)


class LoginRequired(Exception):
    """No logged-in user: the browser is sent to the login page."""


class Refused(Exception):
    """A request the portal turns down with a page that says why; nothing was changed."""

    def __init__(self, status_code: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status_code, self.title, self.message = status_code, title, message


def portal_of(request: Request | Scope) -> Portal:
    app = request.app if isinstance(request, Request) else request["app"]
    return app.state.portal


def audit(request: Request | Scope, event: AuditEvent) -> None:
    """Record the event with the client's address."""
    scope = request.scope if isinstance(request, Request) else request
    client = scope.get("client")
    portal_of(request).settings.audit.record(replace(event, client=client[0] if client else None))


def page(request: Request, name: str, status_code: int = 200, **context: object) -> HTMLResponse:
    """A rendered template with the user and the session's CSRF token."""
    portal, session = portal_of(request), request.session
    session.setdefault(CSRF_FIELD, new_csrf_token())
    user = portal.settings.users.get(session.get("user", ""))
    return portal.templates.TemplateResponse(
        request, name, {"user": user, "csrf_token": session[CSRF_FIELD], **context}, status_code=status_code
    )


def current_user(request: Request) -> User:
    """The logged-in user, read from the users file each time (a removed user is out at once)."""
    user = portal_of(request).settings.users.get(request.session.get("user", ""))
    if user is None:
        raise LoginRequired
    return user


async def checked_form(request: Request, user: User | None, action: str) -> FormData:
    """The request's form once its CSRF token matches the session's; refused and audited otherwise."""
    form = await request.form(max_files=1, max_fields=8)
    if not csrf_valid(request.session, form.get(CSRF_FIELD)):
        audit(request, AuditEvent(user.name if user else None, action, "refused: missing or wrong CSRF token"))
        raise Refused(
            403, "Form refused", "The form did not come from this portal's own page. Reload the page and send it again."
        )
    return form
