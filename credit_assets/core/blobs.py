"""Where stored bytes live: a local folder or an object store, behind one small interface of '/'-separated keys.

What each write guarantees, on both backends:
- `put` replaces an object whole: a reader sees the old bytes or the new, never part (local: a temp file renamed
  over the target; object storage: one PUT, or a multipart upload that appears only when completed).
- `create` writes only where nothing is yet (local: a hard link of a finished temp file, which fails when the name
  exists; object storage: a conditional PUT, If-None-Match: *), so two writers can never both create one key.
- `put_folder` makes a set of files appear together under one prefix, its `commit` file last: a reader that takes
  the commit file as the sign of a complete folder never sees a partial one.
"""

import functools
import hashlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

import fsspec


class MissingArtifact(FileNotFoundError):
    """An artifact that was never stored; the message says what to materialise."""


@dataclass(frozen=True)
class BlobInfo:
    """What a listing knows of an object without reading it: its size and a tag that changes with its content."""

    size: int
    modified: float  # seconds since the epoch
    tag: str


def atomic_write(path: Path, write: Callable[[Path], None], mode: int = 0o644) -> Path:
    """Write through a temp file in the same folder and rename it over `path`, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left behind by a writer that was killed
        stale.unlink(missing_ok=True)
    tmp = _finished_temp(path, write, mode)
    try:
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _finished_temp(path: Path, write: Callable[[Path], None], mode: int) -> Path:
    """A temp file beside `path` holding what `write` wrote, synced to disk."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        tmp.chmod(mode)  # mkstemp creates 0600; artifacts are read by other processes and users
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def write_text(path: Path, text: str) -> Path:
    """A local file written atomically (reports of the benchmarks, the generator's files)."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a local file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Blobs(Protocol):
    """Objects under '/'-separated keys below one root."""

    def location(self, key: str) -> str: ...
    def put(self, key: str, data: bytes) -> str: ...
    def create(self, key: str, data: bytes) -> bool: ...
    def put_folder(self, prefix: str, files: dict[str, bytes], commit: str) -> None: ...
    def get(self, key: str) -> bytes: ...
    def open(self, key: str) -> Iterator[BinaryIO]: ...
    def exists(self, key: str) -> bool: ...
    def info(self, key: str) -> BlobInfo: ...
    def keys(self, prefix: str) -> list[str]: ...
    def delete(self, key: str) -> None: ...
    def append_line(self, key: str, line: str) -> None: ...
    def lines(self, key: str) -> list[str]: ...


@dataclass(frozen=True)
class LocalBlobs:
    """Files below a local folder: the default, and what a single machine or a shared POSIX volume uses."""

    root: Path

    def path(self, key: str) -> Path:
        return self.root / key

    def location(self, key: str) -> str:
        return str(self.path(key))

    def put(self, key: str, data: bytes) -> str:
        return str(atomic_write(self.path(key), lambda tmp: tmp.write_bytes(data)))

    def create(self, key: str, data: bytes) -> bool:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = _finished_temp(target, lambda tmp: tmp.write_bytes(data), 0o644)
        try:
            os.link(tmp, target)  # atomic, and refused when the name exists
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)
        return True

    def put_folder(self, prefix: str, files: dict[str, bytes], commit: str) -> None:
        """Write the files in a temp folder, then rename it into place in one step (all appear at once)."""
        folder = self.path(prefix)
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
        try:
            for name, data in files.items():
                (staging / name).write_bytes(data)
            staging.chmod(0o755)
            os.rename(staging, folder)
        except OSError:
            if not (folder / commit).exists():  # else a concurrent writer stored the same folder first
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise MissingArtifact(f"{self.location(key)} does not exist") from None

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        try:
            handle = open(self.path(key), "rb")
        except FileNotFoundError:
            raise MissingArtifact(f"{self.location(key)} does not exist") from None
        with handle:
            yield handle

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def info(self, key: str) -> BlobInfo:
        stat = self.path(key).stat()
        return BlobInfo(stat.st_size, stat.st_mtime, str(stat.st_mtime_ns))

    def keys(self, prefix: str) -> list[str]:
        """Every stored key below `prefix`, in order; temp files and folders (names starting '.') are not keys."""
        folder = self.path(prefix)
        if not folder.is_dir():
            return []
        found = (path.relative_to(self.root).as_posix() for path in folder.rglob("*") if path.is_file())
        return sorted(key for key in found if not any(part.startswith(".") for part in key.split("/")))

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def append_line(self, key: str, line: str) -> None:
        """Append one short line to a JSON-lines file (one write of one line: no torn records)."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as log:
            log.write(line + "\n")

    def lines(self, key: str) -> list[str]:
        path = self.path(key)
        return path.read_text(encoding="utf-8").splitlines() if path.is_file() else []


class ObjectBlobs:
    """Objects in an S3-compatible store through fsspec (s3fs); endpoint and credentials come from botocore's own
    settings (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or an instance role), never from here."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        aws = tuple(sorted((name, value) for name, value in os.environ.items() if name.startswith("AWS_")))
        self.fs, self.base = _filesystem(self.url, os.getpid(), aws)
        self.protocol = self.url.split("://", 1)[0]

    def _path(self, key: str) -> str:
        return f"{self.base}/{key}"

    def location(self, key: str) -> str:
        return f"{self.protocol}://{self._path(key)}"

    def put(self, key: str, data: bytes) -> str:
        self.fs.pipe_file(self._path(key), data)
        return self.location(key)

    def create(self, key: str, data: bytes) -> bool:
        try:
            self.fs.pipe_file(self._path(key), data, mode="create")
        except FileExistsError:
            return False
        return True

    def put_folder(self, prefix: str, files: dict[str, bytes], commit: str) -> None:
        for name in sorted(files, key=lambda name: name == commit):  # the commit file last
            self.put(f"{prefix}/{name}", files[name])

    def get(self, key: str) -> bytes:
        try:
            return self.fs.cat_file(self._path(key))
        except FileNotFoundError:
            raise MissingArtifact(f"{self.location(key)} does not exist") from None

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        try:
            handle = self.fs.open(self._path(key), "rb")
        except FileNotFoundError:
            raise MissingArtifact(f"{self.location(key)} does not exist") from None
        with handle:
            yield handle

    def exists(self, key: str) -> bool:
        return self.fs.isfile(self._path(key))

    def info(self, key: str) -> BlobInfo:
        found = self.fs.info(self._path(key))
        modified = found.get("LastModified")
        return BlobInfo(int(found["size"]), modified.timestamp() if modified else 0.0, str(found.get("ETag", "")))

    def keys(self, prefix: str) -> list[str]:
        base = f"{self.base}/"
        found = (path[len(base) :] for path in self.fs.find(self._path(prefix)) if path.startswith(base))
        return sorted(key for key in found if not any(part.startswith(".") for part in key.split("/")))

    def delete(self, key: str) -> None:
        try:
            self.fs.rm_file(self._path(key))
        except FileNotFoundError:
            pass

    def append_line(self, key: str, line: str) -> None:
        """Objects cannot be appended to: each line is an object of its own, named by time and a random suffix."""
        self.put(f"{key}.d/{time.time_ns():020d}-{uuid.uuid4().hex}", line.encode("utf-8"))

    def lines(self, key: str) -> list[str]:
        return [self.get(name).decode("utf-8") for name in self.keys(f"{key}.d/")]


@functools.lru_cache(maxsize=8)
def _filesystem(url: str, pid: int, aws: tuple[tuple[str, str], ...]) -> tuple[fsspec.AbstractFileSystem, str]:
    """One client per URL, process and botocore environment (its AWS_* variables): stores share it, but a store
    opened after the endpoint or the keys changed gets its own (fsspec's cache would hand it the first one's), and a
    forked process never inherits its parent's. Listings are never cached: another host may have written since."""
    return fsspec.core.url_to_fs(url, use_listings_cache=False, skip_instance_cache=True)


def blobs_at(root: str) -> Blobs:
    """The backend a storage root names: a URL such as s3://bucket/prefix is object storage, anything else a folder."""
    if "://" in root:
        return ObjectBlobs(root)
    return LocalBlobs(Path(root).resolve())
