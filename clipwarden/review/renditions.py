"""Renditions on disk: one per viewing session, kept only while the session's lease runs.

They sit in their own content-addressed store under the data dir (``renditions/``), apart from the clips:
a rendition is a redacted, watermarked copy made for one view, never a source for anything else.
"""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from clipwarden.store import Store
from clipwarden.store.blobs import FileBlobStore
from clipwarden.store.schema import view_sessions

_sessions = view_sessions.c


def rendition_store(store: Store) -> FileBlobStore:
    return FileBlobStore(store.data_dir / "renditions")


def purge_ended(store: Store) -> list[str]:
    """Delete the files of every ended viewing session; return the hashes removed. Runs after the
    transaction that ended the sessions commits (a deleted file cannot be rolled back)."""
    files = rendition_store(store)
    with store.connect() as conn:
        ended = conn.execute(
            select(_sessions.id, _sessions.rendition_sha256).where(
                _sessions.ended_at.is_not(None), _sessions.rendition_sha256.is_not(None)
            )
        ).all()
    for session_id, sha256 in ended:
        with store.begin() as conn:
            remove(conn, files, session_id, sha256)
    return [sha256 for _, sha256 in ended]


def remove(conn: Connection, files: FileBlobStore, session_id: str, sha256: str) -> None:
    """Delete a session's rendition file and forget its hash (NULL: nothing left on disk)."""
    files.delete(sha256)
    conn.execute(update(view_sessions).where(_sessions.id == session_id).values(rendition_sha256=None))
