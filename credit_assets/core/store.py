"""The storage layout under one root and the atomic writes every stored artifact goes through.

Three kinds of artifact, each addressed by the name of the asset that owns it and a month: tables
(Parquet), models (LightGBM text file plus JSON card) and reports (JSON, PNG and HTML files).
"""

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

PARQUET_COMPRESSION = "zstd"
DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "data"


def default_root() -> str:
    """The storage root: CREDIT_ASSETS_STORAGE_ROOT when set, else `data/` in the project."""
    return os.environ.get("CREDIT_ASSETS_STORAGE_ROOT", str(DEFAULT_ROOT))


def atomic_write(path: Path, write: Callable[[Path], None], mode: int = 0o644) -> Path:
    """Write through a temp file in the same folder and rename it over `path`, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left behind by a writer that was killed
        stale.unlink(missing_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        tmp.chmod(mode)  # mkstemp creates 0600; artifacts are read by other processes and users
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def write_text(path: Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: Path, payload: Any) -> Path:
    return write_text(path, json.dumps(payload, indent=2, sort_keys=True))


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


# CSV exports are read by people: floats with 6 significant digits (a probability 0.0831627, not
# 0.08316271403298791). The same frame always gives the same bytes; the stored Parquet tables keep full precision.
CSV_FLOAT_FORMAT = "%.6g"


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    return atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False, float_format=CSV_FLOAT_FORMAT))


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class MissingArtifact(FileNotFoundError):
    """An artifact that was never stored; the message says what to materialise."""


@dataclass(frozen=True)
class ArtifactStore:
    """Every path below one root; moving `root` moves everything."""

    root: Path

    @property
    def landing_dir(self) -> Path:
        return self.root / "landing"

    @property
    def generator_truth_dir(self) -> Path:
        return self.root / "generator_truth"

    @property
    def forecasts_dir(self) -> Path:
        return self.root / "forecasts"

    @property
    def notices_dir(self) -> Path:
        return self.root / "notices"

    @property
    def registry_dir(self) -> Path:
        return self.root / "registry"

    @property
    def documentation_dir(self) -> Path:
        return self.root / "documentation"

    @property
    def notifications_log(self) -> Path:
        return self.root / "notifications" / "notifications.jsonl"

    @property
    def upload_example_dir(self) -> Path:
        """Where the demo keeps one generated month back, for a first upload through the portal."""
        return self.root / "upload_example"

    @property
    def portal_dir(self) -> Path:
        """The portal's users, sessions, audit log and upload staging (its keys live elsewhere: secrets_dir)."""
        return self.root / "portal"

    @property
    def portal_users_file(self) -> Path:
        return self.portal_dir / "users.json"

    @property
    def portal_sessions_file(self) -> Path:
        return self.portal_dir / "sessions.sqlite3"

    @property
    def portal_audit_log(self) -> Path:
        return self.portal_dir / "audit.jsonl"

    @property
    def optuna_storage_url(self) -> str:
        path = self.root / "optuna" / "studies.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"

    def documentation_file(self, version: str) -> Path:
        return self.documentation_dir / f"{version}.html"

    def landing_file(self, name: str) -> Path:
        return self.landing_dir / name

    def table_path(self, asset: str, month: str) -> Path:
        return self.root / "tables" / asset / f"{month}.parquet"

    def artifact_dir(self, asset: str, month: str) -> Path:
        """The folder of a month's model or report files."""
        return self.root / "artifacts" / asset / month

    def write_table(self, asset: str, month: str, frame: pd.DataFrame) -> Path:
        """Store one month of a table as Parquet, atomically."""
        return atomic_write(
            self.table_path(asset, month),
            lambda tmp: frame.to_parquet(tmp, index=False, compression=PARQUET_COMPRESSION),
        )

    def read_table(self, asset: str, month: str, columns: list[str] | None = None) -> pd.DataFrame:
        """Load one stored month of a table; a clear error when it was never materialised."""
        path = self.table_path(asset, month)
        if not path.exists():
            raise MissingArtifact(f"{asset} has no stored partition {month} ({path}): materialise it first.")
        return pd.read_parquet(path, columns=columns)

    def table_months(self, asset: str) -> list[str]:
        """Months of a table that exist on disk, in order."""
        folder = self.root / "tables" / asset
        return sorted(path.stem for path in folder.glob("*.parquet")) if folder.exists() else []

    def report_months(self, asset: str, file_name: str) -> list[str]:
        """Months whose report folder holds `file_name`, in order."""
        folder = self.root / "artifacts" / asset
        return sorted(path.parent.name for path in folder.glob(f"*/{file_name}")) if folder.exists() else []
