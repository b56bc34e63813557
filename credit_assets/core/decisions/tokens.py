"""API tokens for machine callers: made by the command line, shown once, kept as a SHA-256, revocable at once.

A token is `ca_<id>_<secret>`: the ID finds its row, the secret (256 random bits) is compared by hash in constant
time. A high-entropy secret needs no slow hash; the table holds nothing that opens the service.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa

from credit_assets.core.decisions.log import METADATA, DecisionLog, now_utc, timestamp
from credit_assets.core.names import NAME_PATTERN

PREFIX = "ca"

TOKENS = sa.Table(
    "credit_api_tokens",
    METADATA,
    sa.Column("token_id", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(32), nullable=False, unique=True),
    sa.Column("scope", sa.String(16), nullable=False),
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("revoked_at", sa.String(32)),
)


class Scope(StrEnum):
    """decide: POST applications for decisions; read: look up logged decisions and the model in force."""

    DECIDE = "decide"
    READ = "read"


@dataclass(frozen=True)
class ApiToken:
    token_id: str
    name: str
    scope: Scope
    created_at: str
    revoked_at: str | None = None


class TokenError(ValueError):
    """A token the store refuses to make or revoke; the message says why."""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _token(row: sa.Row) -> ApiToken:
    return ApiToken(row.token_id, row.name, Scope(row.scope), row.created_at, row.revoked_at)


class TokenStore:
    """The tokens table in the decision log's database (created with it)."""

    def __init__(self, log: DecisionLog) -> None:
        self.engine = log.engine
        TOKENS.create(self.engine, checkfirst=True)

    def create(self, name: str, scope: Scope) -> tuple[ApiToken, str]:
        """A new token: its record and the only copy of its text."""
        if not NAME_PATTERN.fullmatch(name):
            raise TokenError(f"token name {name!r}: 2-32 characters, lower-case letters, digits, '_', '.', '-'")
        token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        token = ApiToken(token_id, name, Scope(scope), timestamp(now_utc()))
        row = {**vars(token), "scope": token.scope.value, "secret_sha256": _digest(secret)}
        try:
            with self.engine.begin() as connection:
                connection.execute(TOKENS.insert(), [row])
        except sa.exc.IntegrityError as error:
            raise TokenError(f"a token named {name!r} exists: revoke it or choose another name") from error
        return token, f"{PREFIX}_{token_id}_{secret}"

    def authenticate(self, text: str) -> ApiToken | None:
        """The live token the text opens, else None (unknown, malformed, wrong secret or revoked)."""
        parts = text.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX or len(parts[1]) != 16:
            return None
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(TOKENS).where(TOKENS.c.token_id == parts[1])).first()
        if row is None or not hmac.compare_digest(row.secret_sha256, _digest(parts[2])) or row.revoked_at:
            return None
        return _token(row)

    def revoke(self, name: str) -> ApiToken:
        with self.engine.begin() as connection:
            done = connection.execute(
                TOKENS.update()
                .where(TOKENS.c.name == name, TOKENS.c.revoked_at.is_(None))
                .values(revoked_at=timestamp(now_utc()))
            )
            if not done.rowcount:
                raise TokenError(f"no live token named {name!r}")
            return _token(connection.execute(sa.select(TOKENS).where(TOKENS.c.name == name)).one())

    def tokens(self) -> list[ApiToken]:
        with self.engine.connect() as connection:
            return [_token(row) for row in connection.execute(sa.select(TOKENS).order_by(TOKENS.c.created_at))]
