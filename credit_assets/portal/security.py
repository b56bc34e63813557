"""Request-level protections: a request size limit, security headers on every response, CSRF tokens."""

import hmac
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from credit_assets.core.store import write_text

CSRF_FIELD = "csrf_token"
FORM_OVERHEAD_BYTES = 64 * 1024  # multipart boundaries and the small fields next to the file

SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    "cache-control": "no-store",  # forecasts and notices are about people: no copies in shared caches
}


def too_large(limit_bytes: int) -> str:
    return f"larger than the portal's limit of {limit_bytes:,} bytes ({limit_bytes / (1 << 20):,.1f} MiB)"


def session_secret(path: Path) -> str:
    """The key that signs session cookies: made once per installation, kept readable by its owner only."""
    if not path.exists():
        write_text(path, secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_valid(session: dict, sent: object) -> bool:
    expected = session.get(CSRF_FIELD)
    return isinstance(sent, str) and bool(expected) and hmac.compare_digest(sent, expected)


class LoginThrottle:
    """After `max_failures` wrong passwords for a name within `window_seconds`, that name's logins wait out the window.

    Kept in the process: a restart forgets it, which a guessing attacker cannot trigger from outside.
    """

    def __init__(self, max_failures: int = 5, window_seconds: float = 900, clock: Callable[[], float] = time.monotonic):
        self.max_failures, self.window_seconds, self.clock = max_failures, window_seconds, clock
        self._failures: dict[str, list[float]] = {}

    def _recent(self, name: str) -> list[float]:
        since = self.clock() - self.window_seconds
        recent = [moment for moment in self._failures.get(name, []) if moment > since]
        self._failures[name] = recent
        return recent

    def blocked(self, name: str) -> bool:
        return len(self._recent(name)) >= self.max_failures

    def failed(self, name: str) -> None:
        self._recent(name).append(self.clock())

    def succeeded(self, name: str) -> None:
        self._failures.pop(name, None)


class SecurityHeaders:
    """Adds SECURITY_HEADERS (and HSTS when served over TLS only) to every response."""

    def __init__(self, app: ASGIApp, https_only: bool) -> None:
        self.app = app
        self.headers = [(name.encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]
        if https_only:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, with_headers)


class _BodyTooLarge(Exception):
    pass


class BodyLimit:
    """Refuses a request body too large for the file limit with 413: at once from Content-Length, else as it streams."""

    def __init__(self, app: ASGIApp, file_limit_bytes: int, on_refused: Callable[[Scope], None]) -> None:
        self.app, self.file_limit_bytes, self.on_refused = app, file_limit_bytes, on_refused
        self.max_bytes = file_limit_bytes + FORM_OVERHEAD_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._refuse(scope, send)
        received, started = 0, False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise _BodyTooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        self.on_refused(scope)
        body = (
            "<!doctype html><title>File too large</title><h1>File too large</h1>"
            f"<p>The file is {too_large(self.file_limit_bytes)}. Nothing was landed. "
            '<a href="/">Back to the months</a></p>'
        ).encode()
        headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
