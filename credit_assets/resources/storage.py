"""The one resource that owns every path: landing files, Parquet tables, models, forecasts, reports."""

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

PARQUET_COMPRESSION = "zstd"
DEFAULT_STORAGE_ROOT = Path(__file__).resolve().parents[2] / "data"


def default_storage_root() -> str:
    """The storage root: CREDIT_ASSETS_STORAGE_ROOT when set, else `data/` in the project."""
    return os.environ.get("CREDIT_ASSETS_STORAGE_ROOT", str(DEFAULT_STORAGE_ROOT))


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
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
        tmp.chmod(0o644)  # mkstemp creates 0600; artifacts are read by other processes and users
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class StorageResource(dg.ConfigurableResource):
    """Storage root and the layout below it; moving `root` moves everything."""

    root: str

    @property
    def root_dir(self) -> Path:
        return Path(self.root).resolve()

    @property
    def landing_dir(self) -> Path:
        return self.root_dir / "landing"

    @property
    def generator_truth_dir(self) -> Path:
        return self.root_dir / "generator_truth"

    @property
    def forecasts_dir(self) -> Path:
        return self.root_dir / "forecasts"

    @property
    def reports_dir(self) -> Path:
        return self.root_dir / "reports"

    @property
    def optuna_storage_url(self) -> str:
        path = self.root_dir / "optuna" / "studies.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"

    def table_path(self, asset: str, partition: str) -> Path:
        return self.root_dir / "tables" / asset / f"{partition}.parquet"

    def artifact_dir(self, asset: str, partition: str) -> Path:
        return self.root_dir / "artifacts" / asset / partition

    def write_table(self, asset: str, partition: str, frame: pd.DataFrame) -> Path:
        """Store one partition of a table asset as Parquet, atomically."""
        return atomic_write(
            self.table_path(asset, partition),
            lambda tmp: frame.to_parquet(tmp, index=False, compression=PARQUET_COMPRESSION),
        )

    def read_table(self, asset: str, partition: str, columns: list[str] | None = None) -> pd.DataFrame:
        """Load one stored partition of a table asset; a clear error when it was never materialised."""
        path = self.table_path(asset, partition)
        if not path.exists():
            raise dg.Failure(f"{asset} has no stored partition {partition} ({path}): materialise it first.")
        return pd.read_parquet(path, columns=columns)

    def stored_partitions(self, asset: str) -> list[str]:
        """Partition keys of a table asset that exist on disk, in order."""
        folder = self.root_dir / "tables" / asset
        return sorted(path.stem for path in folder.glob("*.parquet")) if folder.exists() else []

    def write_json(self, path: Path, payload: Any) -> Path:
        return atomic_write(path, lambda tmp: tmp.write_text(json.dumps(payload, indent=2, sort_keys=True)))

    def read_json(self, path: Path) -> Any:
        return json.loads(path.read_text())
