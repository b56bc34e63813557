"""The portal's web application: its state, middleware (sessions, size limit, security headers) and pages."""

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace

import dagster as dg
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import Scope

from credit_assets.defs.partitions import monthly_partitions
from credit_assets.portal import model_routes, referral_routes
from credit_assets.portal.audit import AuditEvent, AuditLogBroken
from credit_assets.portal.routes import router
from credit_assets.portal.security import BodyLimit, SecurityHeaders, secret_key
from credit_assets.portal.web import (
    LoginRequired,
    Portal,
    PortalSettings,
    Refused,
    audit_refusal,
    page,
    session_user,
)

SESSION_COOKIE = "credit_assets_portal"
LOGGER = logging.getLogger(__name__)


def action_of(path: str) -> str:
    """The audited action a request path stands for."""
    parts = path.strip("/").split("/")
    if parts[0] == "months":
        return "download" if len(parts) > 2 else "summary"
    if parts[0] == "models":
        return model_routes.ACTION if parts[-1] == "decision" else "models"
    if parts[0] == "referrals":
        return referral_routes.ACTION if parts[-1] == "decision" else referral_routes.VIEW_ACTION
    return {"login": "login", "logout": "logout", "upload": "upload", "": "page"}.get(parts[0], "request")


def _refused_too_large(scope: Scope) -> None:
    user = session_user(Request(scope))
    event = AuditEvent(user.name if user else None, action_of(scope["path"]), "refused: over the size limit")
    audit_refusal(scope, event, anonymous=user is None)


async def _to_login(request: Request, _error: Exception) -> Response:
    """Off to the login page; the refusal is audited (rate-limited: nobody logged in is behind it)."""
    event = AuditEvent(None, action_of(request.url.path), "refused: not logged in", detail=request.url.path)
    audit_refusal(request, event, anonymous=True)
    return RedirectResponse("/login", status_code=303)


async def _not_offered(request: Request, error: StarletteHTTPException) -> Response:
    """A path or method the portal does not offer: audited (rate-limited without a login) and answered plainly."""
    user = session_user(request)
    event = AuditEvent(user.name if user else None, action_of(request.url.path), f"refused: {error.status_code}")
    audit_refusal(request, replace(event, detail=f"{request.method} {request.url.path}"), anonymous=user is None)
    message = "The portal has no such page. Go back to the months."
    return page(request, "message.html", error.status_code, title="Not found", message=message)


async def _refusal_page(request: Request, error: Refused) -> Response:
    return page(request, "message.html", error.status_code, title=error.title, message=error.message)


def create_app(
    settings: PortalSettings, instance: dg.DagsterInstance | None = None, clock: Callable[[], float] = time.time
) -> FastAPI:
    """The application; the Dagster instance is $DAGSTER_HOME's unless one is given."""
    portal = Portal(settings, monthly_partitions.get_partition_keys(), clock, instance=instance)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            portal.audit_log.verify()  # the whole chain once at start; appends then check the newest line
        except AuditLogBroken as broken:
            LOGGER.error("%s", broken)
        if instance is not None:
            yield
            return
        with dg.DagsterInstance.get() as own:
            portal.instance = own
            yield

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.portal = portal
    app.add_middleware(BodyLimit, file_limit_bytes=settings.max_upload_bytes, on_refused=_refused_too_large)
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key(settings.secrets_dir / "session_cookie.key").hex(),
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_hours * 3600,
        same_site="strict",
        https_only=settings.https_only,
    )
    app.add_middleware(SecurityHeaders, https_only=settings.https_only)
    app.add_exception_handler(LoginRequired, _to_login)
    app.add_exception_handler(Refused, _refusal_page)
    app.add_exception_handler(StarletteHTTPException, _not_offered)
    app.include_router(router)
    app.include_router(model_routes.router)
    app.include_router(referral_routes.router)
    return app
