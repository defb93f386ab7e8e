"""Content-addressed storage for clip media.

``BlobStore`` is the seam for other backends (an S3 bucket, say); ``FileBlobStore`` keeps each blob as a
file named by its SHA-256 under a two-character fan-out directory: ``root/ab/cdef...``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from clipwarden.errors import ClipwardenError

_TEMP_PREFIX = ".tmp-"


class BlobMissing(ClipwardenError):
    """The blob store holds no bytes under that address."""


def content_address(data: bytes) -> str:
    """The address of ``data`` in any blob store: its SHA-256, lowercase hex."""
    return hashlib.sha256(data).hexdigest()


@runtime_checkable
class BlobStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store ``data`` durably; return its address. Storing the same bytes twice is harmless."""
        ...

    def get(self, sha256: str) -> bytes:
        """The bytes at ``sha256``; ``BlobMissing`` if there are none."""
        ...

    def open(self, sha256: str) -> BinaryIO:
        """A binary stream of the bytes at ``sha256``, for copying large blobs; ``BlobMissing`` if none."""
        ...

    def delete(self, sha256: str) -> bool:
        """Remove the bytes at ``sha256``; False if there were none."""
        ...

    def exists(self, sha256: str) -> bool: ...

    def total_bytes(self) -> int:
        """Bytes held over all blobs."""
        ...


class FileBlobStore:
    """Blobs as files on a local file system. Safe for several processes at once: every write goes to a
    private temp file that is renamed into place, so a reader sees a whole blob or none."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:]

    def put(self, data: bytes) -> str:
        sha256 = content_address(data)
        target = self.path(sha256)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(target, [data])
        return sha256

    def get(self, sha256: str) -> bytes:
        with self.open(sha256) as stream:
            return stream.read()

    def open(self, sha256: str) -> BinaryIO:
        try:
            return self.path(sha256).open("rb")
        except FileNotFoundError:
            raise BlobMissing(f"no blob {sha256}") from None

    def delete(self, sha256: str) -> bool:
        path = self.path(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        _fsync_dir(path.parent)
        return True

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def total_bytes(self) -> int:
        return sum(path.stat().st_size for path in self.iter_paths())

    def iter_paths(self) -> Iterator[Path]:
        """Every stored blob file (temp files of writes in progress excluded)."""
        if self.root.is_dir():
            for path in self.root.glob("??/*"):
                if not path.name.startswith(_TEMP_PREFIX):
                    yield path


def write_atomically(target: Path, chunks: Iterable[bytes]) -> None:
    """Write ``chunks`` to ``target`` so that it appears whole or not at all, even across a crash:
    a temp file in the same directory, fsync, rename over the target, fsync the directory."""
    fd, temp_name = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as temp:
            for chunk in chunks:
                temp.write(chunk)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    _fsync_dir(target.parent)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename or unlink itself durable; a crash otherwise may undo it.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
