"""Reading and writing the local store's files directly: what the tests inspect or tamper with on purpose."""

import io
import json
from pathlib import Path
from typing import Any

import pandas as pd

from credit_assets.core.blobs import write_text
from credit_assets.core.store import ArtifactStore, csv_bytes, json_bytes


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def write_json(path: Path, payload: Any) -> Path:
    return write_text(path, json_bytes(payload).decode("utf-8"))


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    return write_text(path, csv_bytes(frame).decode("utf-8"))


def read_export(store: ArtifactStore, kind: str, month: str, **options: Any) -> pd.DataFrame:
    """A month's export as people download it, read through the store (never by a path the test builds)."""
    return pd.read_csv(io.BytesIO(store.read_export(kind, month)), **options)
