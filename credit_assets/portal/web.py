"""What every page handler shares: the portal's context, the logged-in user, checked forms, pages and refusals."""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import dagster as dg
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.types import Scope

from credit_assets.core.databases import decision_log_url
from credit_assets.core.decisions.log import DecisionLog
from credit_assets.core.store import ArtifactStore
from credit_assets.portal.audit import AuditEvent, AuditLog, AuditLogBroken, RefusalLimiter, bounded
from credit_assets.portal.security import CSRF_FIELD, LoginThrottle, csrf_valid, new_csrf_token
from credit_assets.portal.sessions import SessionStore
from credit_assets.portal.status import FileHashes
from credit_assets.portal.users import User, UserStore

PACKAGE = Path(__file__).resolve().parent
SESSION_ID = "session_id"  # in the signed cookie: the key of the server-side session


@dataclass(frozen=True)
class PortalSettings:
    """Where the portal keeps and finds things, and its limits."""

    storage_root: str | Path  # a folder or an object-store URL
    secrets_dir: Path  # keys and the audit log's anchored head: never under the storage root
    dagster_url: str = "http://127.0.0.1:3000"
    max_upload_bytes: int = 512 << 20  # the 267,511-row history is about 140 MiB
    https_only: bool = False  # set behind a TLS-terminating proxy: cookies only over HTTPS, HSTS
    session_hours: int = 8
    session_idle_minutes: int = 30
    decision_db_url: str = ""  # the decision log; empty: the deployment's (database_url of the storage root)
    referral_alert_hours: int = 48  # a referral waiting longer is flagged on the underwriters' queue

    def __post_init__(self) -> None:
        if not self.decision_db_url:  # frozen: set once, so every reader sees the same database
            object.__setattr__(self, "decision_db_url", decision_log_url(self.storage_root))

    @property
    def store(self) -> ArtifactStore:
        return ArtifactStore.at(self.storage_root)

    @property
    def users(self) -> UserStore:
        return UserStore(self.store.portal_users_file)

    def sessions(self, clock: Callable[[], float] = time.time) -> SessionStore:
        return SessionStore(
            self.store.portal_sessions_file, self.session_idle_minutes * 60, self.session_hours * 3600, clock
        )

    def audit_log(self) -> AuditLog:
        return AuditLog(self.store.portal_audit_log, self.secrets_dir)


@dataclass
class Portal:
    """The application's state: settings, months, templates, sessions, audit log, throttles, the instance."""

    settings: PortalSettings
    partitions: list[str]
    clock: Callable[[], float] = time.time
    instance: dg.DagsterInstance | None = None  # set while the application runs
    templates: Jinja2Templates = field(default_factory=lambda: Jinja2Templates(directory=PACKAGE / "templates"))
    hashes: FileHashes = field(default_factory=FileHashes)  # of the landing files, kept while they are unchanged

    def __post_init__(self) -> None:
        self.sessions = self.settings.sessions(self.clock)
        self.audit_log = self.settings.audit_log()
        self.throttle = LoginThrottle(self.clock)
        self.refusals = RefusalLimiter(self.clock)
        self._decision_log: DecisionLog | None = None
        self._decision_log_lock = threading.Lock()

    @property
    def decision_log(self) -> DecisionLog:
        """Opened on first use: a portal nobody underwrites on never creates or connects to the decision log."""
        with self._decision_log_lock:  # handlers run in threads: one engine, its tables created once
            if self._decision_log is None:
                self._decision_log = DecisionLog(self.settings.decision_db_url)
            return self._decision_log

    def checked_month(self, month: object) -> str:
        if month not in self.partitions:
            first = self.partitions[0]
            raise Refused(
                404, "Unknown month", f"{bounded(repr(month), 40)} is not a month the pipeline scores ({first} on)."
            )
        return str(month)


class LoginRequired(Exception):
    """No open session: the browser is sent to the login page."""


class Refused(Exception):
    """A request the portal turns down with a page that says why; nothing was changed."""

    def __init__(self, status_code: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status_code, self.title, self.message = status_code, title, message


def portal_of(request: Request | Scope) -> Portal:
    app = request.app if isinstance(request, Request) else request["app"]
    return app.state.portal


def client_address(request: Request | Scope) -> str:
    scope = request.scope if isinstance(request, Request) else request
    client = scope.get("client")
    return client[0] if client else "(unknown)"


def audit_log_damaged(problem: str) -> Refused:
    return Refused(503, "Audit log damaged", f"Nothing that must be audited can be done now: {problem}.")


def audit(request: Request | Scope, event: AuditEvent, anonymous: bool = False) -> None:
    """Record the event with the client's address. An anonymous request's refusal goes through the rate limit, so
    nobody without a login can flood the log; a log that failed its check refuses the request (503)."""
    portal = portal_of(request)
    admitted = replace(event, client=client_address(request))
    if anonymous:
        admitted = portal.refusals.admit(admitted)
    if admitted is None:
        return
    try:
        portal.audit_log.record(admitted)
    except AuditLogBroken as broken:
        raise audit_log_damaged(str(broken)) from broken


def audit_refusal(request: Request | Scope, event: AuditEvent, anonymous: bool) -> None:
    """Audit a refusal when the log can take it; a damaged log does not turn a refusal into another answer (it
    already refuses every action and says so on every page)."""
    try:
        audit(request, event, anonymous)
    except Refused:
        pass


def require_audit_log(request: Request) -> None:
    """Refuse (503) before anything changes when the audit log cannot record what is about to happen."""
    problem = portal_of(request).audit_log.problem()
    if problem:
        raise audit_log_damaged(problem)


def session_user(request: Request) -> User | None:
    """The open session's user (read from the users file each time: a removed user is out at once), or None."""
    try:
        return request.state.user  # looked up once per request
    except AttributeError:
        portal, session_id = portal_of(request), request.session.get(SESSION_ID)
        name = portal.sessions.user_of(session_id) if isinstance(session_id, str) else None
        request.state.user = portal.settings.users.get(name) if name else None
        return request.state.user


def page(request: Request, name: str, status_code: int = 200, **context: object) -> HTMLResponse:
    """A rendered template with the user, the session's CSRF token and the audit log's problem, if any."""
    portal, session = portal_of(request), request.session
    session.setdefault(CSRF_FIELD, new_csrf_token())
    return portal.templates.TemplateResponse(
        request,
        name,
        {
            "user": session_user(request),
            "csrf_token": session[CSRF_FIELD],
            "audit_problem": portal.audit_log.problem(),
            **context,
        },
        status_code=status_code,
    )


def current_user(request: Request) -> User:
    """The logged-in user of an open session; LoginRequired otherwise."""
    user = session_user(request)
    if user is None:
        raise LoginRequired
    return user


def check_body_size(request: Request, limit_bytes: int, what: str) -> None:
    """A small form's body: one without a declared length, or a longer one, is not read at all."""
    declared = request.headers.get("content-length", "")
    if not declared.isdigit() or int(declared) > limit_bytes:
        raise Refused(413, "Form too large", f"{what} holds at most {limit_bytes:,} bytes.")


async def checked_form(request: Request, user: User | None, action: str) -> FormData:
    """The request's form once it parses and its CSRF token matches the session's; refused and audited otherwise."""
    try:
        form = await request.form(max_files=1, max_fields=8)
    except HTTPException as error:  # Starlette's answer to a malformed multipart body
        audit(
            request, AuditEvent(user.name if user else None, action, "refused: malformed form"), anonymous=user is None
        )
        raise Refused(
            400, "Form not readable", "The form could not be read. Reload the page and send it again."
        ) from error
    if not csrf_valid(request.session, form.get(CSRF_FIELD)):
        audit(
            request,
            AuditEvent(user.name if user else None, action, "refused: missing or wrong CSRF token"),
            anonymous=user is None,
        )
        raise Refused(
            403, "Form refused", "The form did not come from this portal's own page. Reload the page and send it again."
        )
    return form
