"""The portal's web application: its state, middleware (sessions, size limit, security headers) and pages."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import dagster as dg
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import Scope

from credit_assets.defs.partitions import monthly_partitions
from credit_assets.portal.audit import AuditEvent
from credit_assets.portal.routes import router
from credit_assets.portal.security import BodyLimit, SecurityHeaders, session_secret
from credit_assets.portal.web import LoginRequired, Portal, PortalSettings, Refused, audit, page

SESSION_COOKIE = "credit_assets_portal"


def _refused_too_large(scope: Scope) -> None:
    audit(scope, AuditEvent(scope.get("session", {}).get("user"), "upload", "refused: over the size limit"))


async def _to_login(_request: Request, _error: Exception) -> Response:
    return RedirectResponse("/login", status_code=303)


async def _refusal_page(request: Request, error: Refused) -> Response:
    return page(request, "message.html", error.status_code, title=error.title, message=error.message)


def create_app(settings: PortalSettings, instance: dg.DagsterInstance | None = None) -> FastAPI:
    """The application; the Dagster instance is $DAGSTER_HOME's unless one is given."""
    portal = Portal(settings, monthly_partitions.get_partition_keys(), instance=instance)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
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
        secret_key=session_secret(settings.store.portal_dir / "session_secret"),
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_hours * 3600,
        same_site="strict",
        https_only=settings.https_only,
    )
    app.add_middleware(SecurityHeaders, https_only=settings.https_only)
    app.add_exception_handler(LoginRequired, _to_login)
    app.add_exception_handler(Refused, _refusal_page)
    app.include_router(router)
    return app
