"""The decision service's HTTP interface: JSON in, a logged decision out, for callers holding an API token.

POST /v1/decision takes one application (the contract's columns, TARGET absent), POST /v1/decisions up to
`max_batch` of them. Each record is checked with the contract's row rules; a request with any failure is decided
for none of its records (422: record, field, rule and value of each failure). Every answer comes after its
decisions were committed to the decision log. Refusals (no token, a revoked one, a wrong scope, the rate limit, a
body too large or unreadable, a broken contract) are audited in the portal's sealed audit log, an anonymous
flood rate-limited there as in the portal.
"""

import asyncio
import gc
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, create_model
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from credit_assets.api.batcher import AlreadyDecided, ContractBroken, Decided, DecisionBatcher, Job, NoChampion
from credit_assets.api.champion import ChampionWatcher
from credit_assets.core.contract import schema
from credit_assets.core.databases import decision_log_url
from credit_assets.core.decisions.live import shape_failures
from credit_assets.core.decisions.log import DecisionLog, request_sha256
from credit_assets.core.decisions.tokens import ApiToken, TokenStore
from credit_assets.core.decisions.tokens import Scope as TokenScope
from credit_assets.core.modeling.registry import ModelRegistry
from credit_assets.core.scoring import Cutoffs
from credit_assets.core.store import ArtifactStore
from credit_assets.portal.audit import AuditEvent, AuditLog, AuditLogBroken, RefusalLimiter, bounded

LOGGER = logging.getLogger(__name__)
SERVICE_SETTINGS_ENV = "CREDIT_ASSETS_SERVICE_SETTINGS"  # how `credit-assets serve` hands its settings to workers
SHOWN_FAILURES = 100  # of a 422's failures; the count says how many there were
VALUE_CHARACTERS = 64  # of a value echoed back in a failure


@dataclass(frozen=True)
class ServiceSettings:
    """Where the service finds the registry, the log and the audit trail, and its limits."""

    storage_root: str | Path  # a folder or an object-store URL
    secrets_dir: Path  # the audit log's key and anchored head (the portal's)
    database_url: str = ""  # empty: the deployment's (decision_log.database_url)
    cutoffs: Cutoffs = field(default_factory=Cutoffs)
    max_batch: int = 1_000
    max_body_bytes: int = 8 << 20  # a record is about 3 KB of JSON: 1,000 of them fit twice over
    rate_per_second: float = 500.0  # per token, refilled continuously
    burst: int = 2_000  # applications a token may send at once before the rate applies
    poll_seconds: float = 1.0  # how often the champion is looked for

    @property
    def store(self) -> ArtifactStore:
        return ArtifactStore.at(self.storage_root)

    def log(self) -> DecisionLog:
        return DecisionLog(self.database_url or decision_log_url(self.storage_root))

    def to_json(self) -> str:
        return json.dumps(
            {
                **vars(self),
                "storage_root": str(self.storage_root),
                "secrets_dir": str(self.secrets_dir),
                "cutoffs": vars(self.cutoffs),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> "ServiceSettings":
        values = json.loads(text)
        return cls(
            **{
                **values,
                "storage_root": values["storage_root"],
                "secrets_dir": Path(values["secrets_dir"]),
                "cutoffs": Cutoffs(**values["cutoffs"]),
            }
        )


class TokenBuckets:
    """Per token, applications it may still send: `burst` at most, refilled at `rate` a second (in this process)."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._levels: dict[str, tuple[float, float]] = {}  # token ID -> (level, when)

    def take(self, token_id: str, count: int) -> float:
        """0 when the token may send `count` applications now (and they are counted), else seconds to wait."""
        now = time.monotonic()
        level, when = self._levels.get(token_id, (float(self.burst), now))
        level = min(float(self.burst), level + (now - when) * self.rate)
        if count > level:
            self._levels[token_id] = (level, now)
            return (count - level) / self.rate
        self._levels[token_id] = (level - count, now)
        return 0.0


class Refusal(Exception):
    """A request turned down: status, what the caller is told, and what the audit log keeps."""

    def __init__(self, status: int, detail: str, body: dict[str, Any] | None = None, headers: dict | None = None):
        super().__init__(detail)
        self.status, self.detail, self.body, self.headers = status, detail, body or {}, headers or {}


@dataclass
class Service:
    """The running service's parts."""

    settings: ServiceSettings
    log: DecisionLog
    tokens: TokenStore
    champion: ChampionWatcher
    batcher: DecisionBatcher
    audit_log: AuditLog
    refusals: RefusalLimiter
    buckets: TokenBuckets


def build_service(settings: ServiceSettings) -> Service:
    log = settings.log()
    champion = ChampionWatcher(ModelRegistry(settings.store.blobs), settings.poll_seconds)
    return Service(
        settings,
        log,
        TokenStore(log),
        champion,
        DecisionBatcher(log, champion, settings.cutoffs, settings.max_batch),
        AuditLog(settings.store.portal_audit_log, settings.secrets_dir),
        RefusalLimiter(time.monotonic),
        TokenBuckets(settings.rate_per_second, settings.burst),
    )


def _client(request: Request) -> str:
    return request.client.host if request.client else "(unknown)"


def _audit_refusal(service: Service, request: Request, token: ApiToken | None, refusal: Refusal) -> None:
    """Every refusal goes to the audit log through the per-address limit, so nobody can flood it."""
    event = AuditEvent(
        token.name if token else None,
        f"api {request.method} {request.url.path}"[:80],
        f"refused: {refusal.status}",
        detail=bounded(refusal.detail, 300) or "",
        client=_client(request),
    )
    admitted = service.refusals.admit(event)
    if admitted is not None:
        try:
            service.audit_log.record(admitted)
        except AuditLogBroken as broken:
            LOGGER.error("a refusal could not be audited: %s", broken)


def _authorised(service: Service, request: Request, scope: TokenScope) -> ApiToken:
    header = request.headers.get("authorization", "")
    kind, _, text = header.partition(" ")
    token = service.tokens.authenticate(text.strip()) if kind.lower() == "bearer" and len(text) < 200 else None
    if token is None:
        raise Refusal(
            401, "a valid API token is required (Authorization: Bearer ...)", headers={"WWW-Authenticate": "Bearer"}
        )
    request.state.token = token  # a refusal from here on is audited under the token's name
    if token.scope is not scope:
        raise Refusal(403, f"token {token.name!r} has scope {token.scope.value!r}; this needs {scope.value!r}")
    return token


async def _body(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Refusal(413, f"the body is over the service's limit of {limit:,} bytes")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise Refusal(413, f"the body is over the service's limit of {limit:,} bytes")
    try:
        return json.loads(data, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        raise Refusal(400, f"the body is not JSON: {bounded(str(error), 120)}") from error


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def _shown(value: Any) -> Any:
    if isinstance(value, str) and len(value) > VALUE_CHARACTERS:
        return value[:VALUE_CHARACTERS] + "..."
    return value if isinstance(value, int | float | str | bool | None) else f"({type(value).__name__})"


async def _decide(service: Service, request: Request, records: list[Any], token: ApiToken) -> Decided:
    wait = service.buckets.take(token.token_id, len(records))
    if wait:
        raise Refusal(429, f"token {token.name!r} is over its rate", headers={"Retry-After": str(max(1, round(wait)))})
    failures = shape_failures(records)
    if not failures:
        job = Job(records, [request_sha256(record) for record in records], token.name)
        try:
            return await asyncio.wrap_future(service.batcher.submit(job))
        except ContractBroken as broken:
            failures = broken.failures
        except NoChampion as error:
            raise Refusal(503, str(error)) from error
        except AlreadyDecided as error:
            ids = error.application_ids[:5]
            raise Refusal(409, f"application(s) {ids} were already decided with other values") from error
    shown = [{**f.as_json(), "value": _shown(f.value)} for f in failures[:SHOWN_FAILURES]]
    detail = f"{len(failures)} contract failure(s) in {len({f.record for f in failures})} record(s); nothing decided"
    raise Refusal(422, detail, {"failures": shown, "failure_count": len(failures)})


def application_model() -> type[BaseModel]:
    """The request's record as the contract describes it (for the OpenAPI description; the contract checks it)."""
    fields: dict[str, Any] = {}
    for column in schema.columns():
        if column.name == schema.TARGET_COLUMN:
            continue
        kind = str if column.is_text else int if column.dtype == "int64" else float
        facts = [column.role.value]
        facts += [f"levels {', '.join(column.levels)}"] if column.levels else []
        facts += [] if column.is_text else [f"bounds {column.low} to {column.high}"]
        facts += [f"sentinel code {column.sentinel}"] if column.sentinel is not None else []
        fields[column.name] = (kind | None if column.nullable else kind, Field(..., description="; ".join(facts)))
    return create_model("Application", __config__=ConfigDict(extra="forbid"), **fields)


class DecisionAnswer(BaseModel):
    decision_id: str
    application_id: int
    default_probability: float
    decision: str
    reasons: list[str]
    model_version: str
    decided_at: str


class BatchAnswer(BaseModel):
    model_version: str
    decisions: list[DecisionAnswer]


def _request_body(schema_: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema_}}}}


class ServerTiming:
    """Adds `Server-Timing: app;dur=<ms>`: the time from the request's arrival to its answer, in this process."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                took = f"app;dur={(time.perf_counter() - start) * 1000:.3f}"
                message["headers"] = [*message.get("headers", []), (b"server-timing", took.encode())]
            await send(message)

        await self.app(scope, receive, timed)


def create_app(settings: ServiceSettings) -> FastAPI:
    """The service; the champion watcher and the deciding thread run while the application does."""
    service = build_service(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        service.champion.start()
        # The imports and the model are millions of long-lived objects: frozen out of the collector, a full
        # collection no longer walks them while a batch of decisions waits (p99 300 -> 175 ms at 150 decisions/s)
        gc.collect()
        gc.freeze()
        service.batcher.start()
        yield
        service.batcher.stop()
        service.champion.stop()

    app = FastAPI(
        title="credit-assets decision service",
        version="1",
        description=__doc__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = service
    app.add_middleware(ServerTiming)
    application = application_model().model_json_schema(ref_template="#/components/schemas/{model}")

    async def refused(request: Request, refusal: Refusal) -> JSONResponse:
        _audit_refusal(service, request, getattr(request.state, "token", None), refusal)
        return JSONResponse({"detail": refusal.detail, **refusal.body}, refusal.status, headers=refusal.headers)

    app.add_exception_handler(Refusal, refused)  # type: ignore[arg-type]

    @app.post("/v1/decision", response_model=DecisionAnswer, openapi_extra=_request_body(application))
    async def decide_one(request: Request) -> JSONResponse:
        """Decide one application."""
        token = _authorised(service, request, TokenScope.DECIDE)
        record = await _body(request, settings.max_body_bytes)
        decided = await _decide(service, request, [record], token)
        return _answer(decided.decisions[0].answer(), decided)

    batch_schema = {
        "type": "object",
        "properties": {
            "applications": {"type": "array", "items": application, "minItems": 1, "maxItems": settings.max_batch}
        },
        "required": ["applications"],
    }

    @app.post("/v1/decisions", response_model=BatchAnswer, openapi_extra=_request_body(batch_schema))
    async def decide_batch(request: Request) -> JSONResponse:
        """Decide up to `max_batch` applications, all or none."""
        token = _authorised(service, request, TokenScope.DECIDE)
        body = await _body(request, settings.max_body_bytes)
        records = body.get("applications") if isinstance(body, dict) else None
        if not isinstance(records, list) or not 1 <= len(records) <= settings.max_batch:
            raise Refusal(422, f'the body must be {{"applications": [1 to {settings.max_batch:,} applications]}}')
        decided = await _decide(service, request, records, token)
        answers = [decision.answer() for decision in decided.decisions]
        return _answer({"model_version": decided.decisions[0].model_version, "decisions": answers}, decided)

    @app.get("/v1/decisions/{decision_id}", response_model=DecisionAnswer)
    async def logged_decision(request: Request, decision_id: str) -> JSONResponse:
        """A logged decision, as it was answered."""
        _authorised(service, request, TokenScope.READ)
        found = service.log.get(decision_id) if len(decision_id) == 32 and decision_id.isalnum() else None
        if found is None:
            raise Refusal(404, "no such decision")
        return JSONResponse(found.answer())

    @app.get("/v1/champion")
    async def champion(request: Request) -> JSONResponse:
        """The model deciding now and the cut-offs it decides with."""
        _authorised(service, request, TokenScope.READ)
        model = service.champion.current.model
        card = model.card if model else None
        return JSONResponse(
            {
                "model_version": card.version if card else None,
                "family": card.family if card else None,
                "developed_for_month": card.month if card else None,
                "why_none": service.champion.current.why_none,
                "cutoffs": vars(settings.cutoffs),
            }
        )

    @app.get("/healthz")
    async def health() -> JSONResponse:
        """Whether the service can decide (no token needed, nothing about the model told)."""
        ready = service.champion.current.model is not None
        return JSONResponse({"status": "ready" if ready else "no_champion"}, 200 if ready else 503)

    return app


def _answer(body: dict[str, Any], decided: Decided) -> JSONResponse:
    headers = {"x-model-version": decided.decisions[0].model_version}
    if decided.replayed:
        headers["x-replayed"] = "true"  # decided before: the logged answer, nothing decided again
    return JSONResponse(body, headers=headers)


def app_from_environment() -> FastAPI:
    """The service as `credit-assets serve` configured it (uvicorn calls this in each worker)."""
    return create_app(ServiceSettings.from_json(os.environ[SERVICE_SETTINGS_ENV]))
