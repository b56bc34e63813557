"""Portal users in one JSON file: name, role and an Argon2id password hash; never a password."""

import json
import secrets
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from credit_assets.core.blobs import atomic_write
from credit_assets.core.modeling.change_control import MODEL_RISK_ROLE
from credit_assets.core.names import NAME_PATTERN

MIN_PASSWORD_LENGTH = 12
_HASHER = PasswordHasher()  # Argon2id with argon2-cffi's RFC 9106 low-memory profile
# verified against when the name is unknown, so a wrong name costs the same time as a wrong password
_DECOY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


class Role(StrEnum):
    """What a user may do: an uploader uploads and downloads, a viewer only downloads, a model_risk user views
    and approves or rejects a candidate model (never uploads: who validates a model must not feed its data), an
    underwriter decides referred applications and overrides automatic decisions (never uploads, never approves
    models: who decides applicants must not also shape the data or the model that decides them)."""

    UPLOADER = "uploader"
    VIEWER = "viewer"
    MODEL_RISK = MODEL_RISK_ROLE  # the role the promotion log takes decisions from
    UNDERWRITER = "underwriter"

    @property
    def can_upload(self) -> bool:
        return self is Role.UPLOADER

    @property
    def can_decide_models(self) -> bool:
        return self is Role.MODEL_RISK

    @property
    def can_underwrite(self) -> bool:
        """Only underwriters see applicants' data: the queue holds personal data, which nobody else needs."""
        return self is Role.UNDERWRITER


@dataclass(frozen=True)
class User:
    name: str
    role: Role


class UserError(ValueError):
    """A user that cannot be added as asked; the message says why."""


def generate_password() -> str:
    """A random password of 20 URL-safe characters (about 120 bits)."""
    return secrets.token_urlsafe(15)


class UserStore:
    """The users file; read on every lookup, so an added or removed user counts at once."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _records(self) -> dict[str, dict[str, str]]:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def get(self, name: str) -> User | None:
        record = self._records().get(name)
        return User(name, Role(record["role"])) if record else None

    def users(self) -> list[User]:
        return [User(name, Role(record["role"])) for name, record in sorted(self._records().items())]

    def add(self, name: str, role: Role, password: str, replace: bool = False) -> User:
        """Store the user with the password's hash; an existing name only with `replace`."""
        if not NAME_PATTERN.fullmatch(name):
            raise UserError(f"user name {name!r}: 2-32 characters, lower-case letters, digits, '_', '.', '-'")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise UserError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
        records = self._records()
        if name in records and not replace:
            raise UserError(f"user {name!r} exists: pass --replace to set a new password or role")
        records[name] = {"role": Role(role).value, "password_hash": _HASHER.hash(password)}
        atomic_write(self.path, lambda tmp: tmp.write_text(json.dumps(records, indent=2, sort_keys=True)))
        self.path.chmod(0o600)  # hashes are not secrets, but nobody else needs to try cracking them
        return User(name, Role(role))

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when the password matches its hash, else None (same work whether or not the name exists)."""
        record = self._records().get(name)
        try:
            _HASHER.verify(record["password_hash"] if record else _DECOY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        return User(name, Role(record["role"])) if record else None
