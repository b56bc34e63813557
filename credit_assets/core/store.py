"""The stored artifacts of the pipeline, addressed by what they are, never by a path a caller builds.

Tables (Parquet) and reports are addressed by the asset that owns them and a month; models by version (the
registry); exports by kind and month; landing files by name. Where they live is the backend's business
(`core/blobs.py`): a local folder by default, or an object store named by a URL such as s3://bucket/prefix.
"""

import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from credit_assets.core.blobs import BlobInfo, Blobs, LocalBlobs, MissingArtifact, blobs_at

__all__ = ["ArtifactStore", "BlobInfo", "MissingArtifact", "default_root"]

PARQUET_COMPRESSION = "zstd"
DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "data"
STORAGE_ROOT_SETTING = "CREDIT_ASSETS_STORAGE_ROOT"

# CSV exports are read by people: floats with 6 significant digits (a probability 0.0831627, not
# 0.08316271403298791). The same frame always gives the same bytes; the stored Parquet tables keep full precision.
CSV_FLOAT_FORMAT = "%.6g"

# The exports people download, by kind: the one place their names are spelled.
FORECASTS_EXPORT = "forecasts"
NOTICES_EXPORT = "notices"
EXPORT_KINDS = (FORECASTS_EXPORT, NOTICES_EXPORT)
LANDING = "landing"
GENERATOR_TRUTH = "generator_truth"  # the generator's true default probabilities, beside the landing folder
UPLOAD_EXAMPLE = "upload_example"  # the demo's month kept back for a first upload through the portal
REGISTRY = "registry"
NOTIFICATIONS = "notifications/notifications.jsonl"


def default_root() -> str:
    """The storage root: CREDIT_ASSETS_STORAGE_ROOT (a folder or an s3:// URL) when set, else `data/` in the project."""
    return os.environ.get(STORAGE_ROOT_SETTING, str(DEFAULT_ROOT))


def export_name(kind: str, month: str) -> str:
    """The file name a month's export of `kind` is stored and downloaded under."""
    if kind not in EXPORT_KINDS:
        raise ValueError(f"no export kind {kind!r}: one of {EXPORT_KINDS}")
    return f"{kind}_{month}.csv"


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, float_format=CSV_FLOAT_FORMAT).encode("utf-8")


def json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, indent=2, sort_keys=True).encode("utf-8")


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, compression=PARQUET_COMPRESSION)
    return buffer.getvalue()


@dataclass(frozen=True)
class ArtifactStore:
    """Every artifact of the pipeline below one storage root, on whichever backend the root names."""

    blobs: Blobs

    @classmethod
    def at(cls, root: str | Path) -> "ArtifactStore":
        return cls(blobs_at(str(root)))

    @property
    def local_root(self) -> Path | None:
        """The folder of a local store (None on object storage): for what must stay on one host."""
        return self.blobs.root if isinstance(self.blobs, LocalBlobs) else None

    def location(self, key: str) -> str:
        return self.blobs.location(key)

    def local_folder(self, name: str) -> Path | None:
        """A folder of a local store's root (None on object storage): defaults for the tools that write files."""
        return self.local_root / name if self.local_root else None

    # the portal's own state stays on the portal's host: below a local store's root, else under $DAGSTER_HOME

    @property
    def portal_dir(self) -> Path:
        """The portal's users, sessions, audit log, upload staging and locks (its keys live elsewhere: secrets_dir)."""
        if self.local_root:
            return self.local_root / "portal"
        return Path(os.environ.get("DAGSTER_HOME", Path.home())) / "credit_assets_portal"

    @property
    def portal_users_file(self) -> Path:
        return self.portal_dir / "users.json"

    @property
    def portal_sessions_file(self) -> Path:
        return self.portal_dir / "sessions.sqlite3"

    @property
    def portal_audit_log(self) -> Path:
        return self.portal_dir / "audit.jsonl"

    # tables: one Parquet object per asset and month

    @staticmethod
    def _table_key(asset: str, month: str) -> str:
        return f"tables/{asset}/{month}.parquet"

    def write_table(self, asset: str, month: str, frame: pd.DataFrame) -> str:
        """Store one month of a table as Parquet, whole or not at all."""
        return self.blobs.put(self._table_key(asset, month), parquet_bytes(frame))

    def read_table(self, asset: str, month: str, columns: list[str] | None = None) -> pd.DataFrame:
        """Load one stored month of a table; a clear error when it was never materialised."""
        key = self._table_key(asset, month)
        try:
            with self.blobs.open(key) as handle:
                return pd.read_parquet(handle, columns=columns)
        except MissingArtifact:
            raise MissingArtifact(
                f"{asset} has no stored partition {month} ({self.location(key)}): materialise it first."
            ) from None

    def has_table(self, asset: str, month: str) -> bool:
        return self.blobs.exists(self._table_key(asset, month))

    def table_columns(self, asset: str, month: str) -> list[str]:
        """The column names of a stored month, read from the Parquet footer only."""
        with self.blobs.open(self._table_key(asset, month)) as handle:
            return pq.read_schema(handle).names

    def table_months(self, asset: str) -> list[str]:
        """Months of a table that are stored, in order."""
        prefix, suffix = f"tables/{asset}/", ".parquet"
        return sorted(key[len(prefix) : -len(suffix)] for key in self.blobs.keys(prefix) if key.endswith(suffix))

    # reports: named files per asset and month

    @staticmethod
    def _report_key(asset: str, month: str, name: str) -> str:
        return f"artifacts/{asset}/{month}/{name}"

    def report_location(self, asset: str, month: str, name: str) -> str:
        return self.location(self._report_key(asset, month, name))

    def write_report(self, asset: str, month: str, name: str, payload: Any) -> str:
        """Store a JSON report of an asset's month."""
        return self.write_report_file(asset, month, name, json_bytes(payload))

    def write_report_file(self, asset: str, month: str, name: str, data: bytes) -> str:
        return self.blobs.put(self._report_key(asset, month, name), data)

    def delete_report_file(self, asset: str, month: str, name: str) -> None:
        self.blobs.delete(self._report_key(asset, month, name))

    def write_report_files(self, asset: str, month: str, files: dict[str, bytes | None]) -> dict[str, str]:
        """Store files of an asset's month; None removes a file an earlier run left (it would contradict)."""
        written = {}
        for name, data in files.items():
            if data is None:
                self.delete_report_file(asset, month, name)
            else:
                written[name] = self.write_report_file(asset, month, name, data)
        return written

    def find_report(self, asset: str, month: str, name: str) -> Any | None:
        """A stored JSON report, or None when the asset has not produced it for the month."""
        try:
            return json.loads(self.blobs.get(self._report_key(asset, month, name)))
        except MissingArtifact:
            return None

    def read_report_file(self, asset: str, month: str, name: str) -> bytes:
        return self.blobs.get(self._report_key(asset, month, name))

    def has_report_file(self, asset: str, month: str, name: str) -> bool:
        return self.blobs.exists(self._report_key(asset, month, name))

    def report_months(self, asset: str, name: str) -> list[str]:
        """Months whose report folder holds `name`, in order."""
        prefix = f"artifacts/{asset}/"
        parts = (key[len(prefix) :].split("/") for key in self.blobs.keys(prefix))
        return sorted(part[0] for part in parts if len(part) == 2 and part[1] == name)

    # exports: CSV files and documentation packs that people download

    @staticmethod
    def _export_key(kind: str, month: str) -> str:
        return f"{kind}/{export_name(kind, month)}"

    def write_export(self, kind: str, month: str, frame: pd.DataFrame) -> str:
        return self.blobs.put(self._export_key(kind, month), csv_bytes(frame))

    def read_export(self, kind: str, month: str) -> bytes:
        return self.blobs.get(self._export_key(kind, month))

    def has_export(self, kind: str, month: str) -> bool:
        return self.blobs.exists(self._export_key(kind, month))

    def export_location(self, kind: str, month: str) -> str:
        return self.blobs.location(self._export_key(kind, month))

    @staticmethod
    def _documentation_key(version: str) -> str:
        return f"documentation/{version}.html"

    def documentation_location(self, version: str) -> str:
        return self.location(self._documentation_key(version))

    def write_documentation(self, version: str, html: str) -> str:
        return self.blobs.put(self._documentation_key(version), html.encode("utf-8"))

    def read_documentation(self, version: str) -> bytes:
        return self.blobs.get(self._documentation_key(version))

    def has_documentation(self, version: str) -> bool:
        return self.blobs.exists(self._documentation_key(version))

    # landing files: the monthly files as they arrive, kept as they were

    def landing_names(self) -> list[str]:
        """The files in the landing area (not in sub-folders, no hidden or temp files), in order."""
        prefix = f"{LANDING}/"
        return [key[len(prefix) :] for key in self.blobs.keys(prefix) if "/" not in key[len(prefix) :]]

    def landing_location(self, name: str) -> str:
        return self.location(f"{LANDING}/{name}")

    def landing_info(self, name: str) -> BlobInfo:
        return self.blobs.info(f"{LANDING}/{name}")

    def has_landing(self, name: str) -> bool:
        return self.blobs.exists(f"{LANDING}/{name}")

    def read_landing(self, name: str) -> bytes:
        return self.blobs.get(f"{LANDING}/{name}")

    def landing_sha256(self, name: str) -> str:
        """Hex SHA-256 of a landing file, read in blocks."""
        digest = hashlib.sha256()
        with self.blobs.open(f"{LANDING}/{name}") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    def land(self, name: str, data: bytes) -> str:
        """Place a whole file in the landing area under `name` (a name the caller derived, never a client's)."""
        return self.blobs.put(f"{LANDING}/{name}", data)

    # the files the generator keeps beside a landing month, and the demo's upload example

    def write_file(self, folder: str, name: str, data: bytes) -> str:
        return self.blobs.put(f"{folder}/{name}", data)

    def read_file(self, folder: str, name: str) -> bytes:
        return self.blobs.get(f"{folder}/{name}")

    # run notifications: an append-only JSON-lines log

    def append_notification(self, record: dict[str, Any]) -> None:
        self.blobs.append_line(NOTIFICATIONS, json.dumps(record, sort_keys=True))

    def notifications(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.blobs.lines(NOTIFICATIONS)]
