"""Request-level protections: a request size limit, security headers on every response, CSRF tokens."""

import hmac
import os
import secrets
import tempfile
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


def default_secrets_dir() -> Path:
    """Where the portal keeps its keys, the audit log's anchored head and nothing else: CREDIT_ASSETS_SECRETS_DIR,
    else `credit_assets_secrets` in $DAGSTER_HOME. Never under the storage root: whoever can write the log there
    must not also hold the key that seals it."""
    if "CREDIT_ASSETS_SECRETS_DIR" in os.environ:
        return Path(os.environ["CREDIT_ASSETS_SECRETS_DIR"])
    if "DAGSTER_HOME" not in os.environ:
        raise ValueError("set DAGSTER_HOME (or CREDIT_ASSETS_SECRETS_DIR): the portal keeps its keys there")
    return Path(os.environ["DAGSTER_HOME"]) / "credit_assets_secrets"


def secret_key(path: Path) -> bytes:
    """A random 256-bit key made on first use, owner-only from the moment it exists. Written whole to a private
    temp file, then hard-linked into place: of two processes starting at once, one key wins and neither ever
    reads a half-written file."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        descriptor, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
        try:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_hex(32))
                handle.flush()
                os.fsync(handle.fileno())
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return bytes.fromhex(path.read_text().strip())


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_valid(session: dict, sent: object) -> bool:
    expected = session.get(CSRF_FIELD)
    return isinstance(sent, str) and bool(expected) and hmac.compare_digest(sent, expected)


class SlidingWindow:
    """Per key, the moments of its events within the last `seconds`; at most `max_keys` keys (the least recently
    used are forgotten first), so a flood of new keys cannot grow the process without bound."""

    def __init__(self, seconds: float, max_keys: int = 10_000) -> None:
        self.seconds, self.max_keys = seconds, max_keys
        self._moments: OrderedDict[str, deque[float]] = OrderedDict()

    def moments(self, key: str, now: float) -> deque[float]:
        """The key's moments still in the window, oldest first (append to record one)."""
        recent = self._moments.pop(key, deque())
        while recent and recent[0] <= now - self.seconds:
            recent.popleft()
        self._moments[key] = recent
        while len(self._moments) > self.max_keys:
            self._moments.popitem(last=False)
        return recent


class LoginThrottle:
    """Exponential back-off per user name and client address, and a cap on wrong passwords per address across names.

    A stranger's wrong passwords slow that stranger down, never the owner at another address: after
    `free_failures` wrong passwords for a name from one address, each further try from there waits 1, 2, 4 ...
    seconds (at most `max_delay_seconds`); an address with `client_failures` wrong passwords within
    `window_seconds`, whatever the names, waits until the oldest of them is out of the window. Kept in the
    process and bounded (`max_keys` of each, the least recent forgotten first).
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        free_failures: int = 3,
        max_delay_seconds: float = 900,
        client_failures: int = 20,
        window_seconds: float = 900,
        max_keys: int = 10_000,
    ) -> None:
        self.clock, self.free_failures, self.max_delay_seconds = clock, free_failures, max_delay_seconds
        self.client_failures, self.window_seconds, self.max_keys = client_failures, window_seconds, max_keys
        self._pairs: OrderedDict[tuple[str, str], tuple[int, float]] = OrderedDict()  # -> (failures, last)
        self._client_failures = SlidingWindow(window_seconds, max_keys)

    def wait_seconds(self, name: str, client: str) -> float:
        """How long this name from this address must wait before its next try (0: it may try now)."""
        now = self.clock()
        failures, last = self._pairs.get((name, client), (0, now))
        pair_wait = 0.0
        if failures >= self.free_failures and now - last < self.window_seconds:
            pair_wait = last + min(self.max_delay_seconds, 2.0 ** (failures - self.free_failures)) - now
        recent = self._client_failures.moments(client, now)
        client_wait = recent[0] + self.window_seconds - now if len(recent) >= self.client_failures else 0.0
        return max(0.0, pair_wait, client_wait)

    def failed(self, name: str, client: str) -> None:
        now = self.clock()
        failures, last = self._pairs.pop((name, client), (0, now))
        self._pairs[(name, client)] = (failures + 1 if now - last < self.window_seconds else 1, now)
        self._client_failures.moments(client, now).append(now)
        while len(self._pairs) > self.max_keys:
            self._pairs.popitem(last=False)

    def succeeded(self, name: str, client: str) -> None:
        self._pairs.pop((name, client), None)


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
