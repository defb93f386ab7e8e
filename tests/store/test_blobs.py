"""The file blob store: content addressing, atomic writes, deletion."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from clipwarden.store import BlobMissing, BlobStore, FileBlobStore
from clipwarden.store.blobs import write_atomically


def test_put_stores_bytes_under_their_sha256(tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path)
    data = b"clip bytes"
    sha = blobs.put(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert (tmp_path / sha[:2] / sha[2:]).read_bytes() == data
    assert blobs.get(sha) == data
    with blobs.open(sha) as stream:
        assert stream.read() == data
    assert blobs.exists(sha)
    assert blobs.total_bytes() == len(data)
    assert isinstance(blobs, BlobStore)


def test_putting_the_same_bytes_twice_keeps_one_copy(tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path)
    assert blobs.put(b"same") == blobs.put(b"same")
    assert [path.name for path in tmp_path.rglob("*") if path.is_file()] == [hashlib.sha256(b"same").hexdigest()[2:]]


def test_delete_removes_the_file_and_reports_whether_there_was_one(tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path)
    sha = blobs.put(b"to delete")
    assert blobs.delete(sha) is True
    assert not blobs.exists(sha)
    assert blobs.delete(sha) is False
    with pytest.raises(BlobMissing):
        blobs.get(sha)
    assert blobs.total_bytes() == 0


def test_addresses_that_are_not_sha256_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        FileBlobStore(tmp_path).get("../../etc/passwd")


def test_a_failed_write_leaves_neither_the_target_nor_a_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def chunks() -> Iterator[bytes]:
        yield b"partial"
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, chunks())
    assert target.read_bytes() == b"old"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.bin"]


def test_many_writers_of_one_blob_at_once_leave_it_whole(tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path)
    data = bytes(range(256)) * 4096  # 1 MiB: writes take long enough to overlap
    sha = hashlib.sha256(data).hexdigest()
    target = blobs.path(sha)
    target.parent.mkdir(parents=True)
    start = threading.Barrier(8)

    def write() -> None:
        start.wait()
        write_atomically(target, [data])  # every writer really writes: no "already there" shortcut

    writers = [threading.Thread(target=write) for _ in range(8)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert blobs.get(sha) == data
    assert list(blobs.iter_paths()) == [target]
    assert sorted(path.name for path in target.parent.iterdir()) == [target.name]
