"""An upload's way to the landing folder: streamed to a staging file, pre-checked, then renamed into place."""

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from credit_assets.core.contract import quality, schema
from credit_assets.core.contract.precheck import PrecheckResult, precheck
from credit_assets.core.months import landing_file_name
from credit_assets.core.store import ArtifactStore
from credit_assets.defs.assets.validated_applications import ASSET_KEY as VALIDATED
from credit_assets.defs.storage import asset_name
from credit_assets.portal.security import too_large

CHUNK_BYTES = 1 << 20


class UploadTooLarge(ValueError):
    """The upload passed the configured size limit; nothing of it is kept."""


def staging_dir(store: ArtifactStore) -> Path:
    return store.portal_dir / "staging"


@contextmanager
def staged_upload(store: ArtifactStore, month: str, source: BinaryIO, max_bytes: int) -> Iterator[Path]:
    """Copy the upload into a private staging folder under the month's landing name; always removed afterwards.

    The name comes from the month alone, never from the client; staging sits on the landing folder's file
    system, so landing is one rename.
    """
    staging_dir(store).mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=staging_dir(store)))
    path, written = folder / landing_file_name(month), 0
    try:
        with open(path, "wb") as target:
            for chunk in iter(lambda: source.read(CHUNK_BYTES), b""):
                written += len(chunk)
                if written > max_bytes:
                    raise UploadTooLarge(f"The file is {too_large(max_bytes)}")
                target.write(chunk)
            target.flush()
            os.fsync(target.fileno())
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def precheck_upload(store: ArtifactStore, path: Path, month: str) -> PrecheckResult:
    """The pipeline's reader and GX suite on the staged file, against the IDs of the validated months before it."""
    validated = asset_name(VALIDATED)
    earlier_ids = quality.ids_before(
        month,
        store.table_months(validated),
        lambda key: store.read_table(validated, key, [schema.ID_COLUMN])[schema.ID_COLUMN],
    )
    return precheck(path, earlier_ids)


def land(store: ArtifactStore, staged: Path, month: str) -> str:
    """Place the checked file in the landing area under the month's name, whole (readers never see half a file)."""
    return store.land(landing_file_name(month), staged.read_bytes())


class UploadUnderWay(RuntimeError):
    """Another upload of the same month holds its lock."""


@contextmanager
def month_lock(store: ArtifactStore, month: str) -> Iterator[None]:
    """One upload per month at a time, from the replace check through the rename: a second one is refused at once.

    An exclusive, non-blocking file lock (held by the open file, so a crashed portal leaves no stale lock); the
    month is one of the pipeline's partition keys, never a client's string."""
    path = store.portal_dir / "locks" / f"upload-{month}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UploadUnderWay(f"another upload of {month} is being checked right now") from None
        yield
