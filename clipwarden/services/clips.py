"""Clip use cases: ingest, listing, the owner's export, deletion, retention, fleet figures."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Connection, Row, func, select

from clipwarden.domain import LABELS, PLAN_RETENTION_HOURS, AiVerdict, RecordedClip
from clipwarden.errors import ClipwardenError, Conflict, NotFound
from clipwarden.media.capture import MotionTrack, track_document
from clipwarden.media.codec import keyframe_jpeg
from clipwarden.services.erasure import completed, erase
from clipwarden.store import BlobMissing, Store, content_address
from clipwarden.store.blobs import write_atomically
from clipwarden.store.erasure_steps import ErasureScope, plan_clips
from clipwarden.store.households import active_household, household
from clipwarden.store.schema import cameras, clips, households
from clipwarden.store.sql import insert_for
from clipwarden.times import iso_utc, require_aware, utc_now

__all__ = [
    "clip_document",
    "delete_clip",
    "expiry",
    "export_clip",
    "fleet_stats",
    "get_clip",
    "ingest_clip",
    "list_clips",
    "sweep_retention",
]

_COPY_CHUNK = 1 << 20


def expiry(started_at: datetime, plan: str) -> datetime:
    """When a clip recorded at ``started_at`` under ``plan`` must be gone."""
    return started_at + timedelta(hours=PLAN_RETENTION_HOURS[plan])


def ingest_clip(store: Store, clip: RecordedClip, verdict: AiVerdict, track: MotionTrack | None = None) -> str:
    """Store a camera's upload, the camera AI's verdict and the motion track it read it from; return the
    clip id.

    A recording already known (same camera, same start) keeps its id and nothing new is stored, even if
    it was deleted since: a retried upload must not bring deleted media back.
    """
    require_aware(clip.started_at, "clip start")
    if not clip.data:
        raise ClipwardenError(f"clip from camera {clip.camera_id} has no media")
    if verdict.label not in LABELS:
        raise ClipwardenError(f"unknown label {verdict.label!r}")
    sha256 = content_address(clip.data)
    preview = keyframe_jpeg(clip.data)  # also refuses what is not a playable video, before anything is written
    with store.begin() as conn:
        owner = _recording_household(conn, clip.camera_id)
        store.lock_blob(conn, sha256)
        clip_id = conn.execute(
            insert_for(conn, clips)
            .values(
                id=f"clip_{uuid.uuid4().hex}",
                household_id=owner.id,
                camera_id=clip.camera_id,
                started_at=clip.started_at,
                duration_s=clip.duration_s,
                width=clip.width,
                height=clip.height,
                fps=clip.fps,
                codec=clip.codec,
                blob_sha256=sha256,
                size_bytes=len(clip.data),
                status="stored",
                expires_at=expiry(clip.started_at, owner.plan),
                ai_label=verdict.label,
                ai_alert=verdict.alert,
                ai_confidence=verdict.confidence,
                ai_model_id=verdict.model_id,
                motion_track=None if track is None else track_document(track),
                thumbnail=preview,
                created_at=utc_now(),
            )
            .on_conflict_do_nothing(index_elements=["camera_id", "started_at"])
            .returning(clips.c.id)
        ).scalar()
        if clip_id is None:
            return _clip_recorded_at(conn, clip.camera_id, clip.started_at)
        # Inside the transaction: the row commits only once its bytes are durable.
        store.blobs.put(clip.data)
    return clip_id


def thumbnail(store: Store, clip_id: str) -> bytes:
    """The stored clip's thumbnail JPEG. Callers ask the gate first (``owner.open_thumbnail``)."""
    with store.connect() as conn:
        row = conn.execute(select(clips.c.thumbnail).where(clips.c.id == clip_id, clips.c.status == "stored")).first()
    if row is None or row.thumbnail is None:
        raise NotFound(f"clip {clip_id} has no thumbnail (it was stored before thumbnails were made, or is gone)")
    return bytes(row.thumbnail)


def list_clips(
    store: Store, household_id: str | None = None, statuses: Sequence[str] = ("stored",)
) -> list[dict[str, Any]]:
    """Clips in recording order, as CONTRACT's ``clips list`` documents them; stored ones by default."""
    query = select(clips).where(clips.c.status.in_(statuses)).order_by(clips.c.started_at, clips.c.id)
    with store.connect() as conn:
        if household_id is not None:
            household(conn, household_id)
            query = query.where(clips.c.household_id == household_id)
        return [clip_document(row) for row in conn.execute(query)]


def get_clip(store: Store, clip_id: str) -> dict[str, Any]:
    """One clip, whatever its status, as ``list_clips`` shows it; ``NotFound`` if unknown."""
    with store.connect() as conn:
        return clip_document(_clip_row(conn, clip_id))


def export_clip(store: Store, clip_id: str, dest: Path) -> dict[str, Any]:
    """Write the clip's MP4 to ``dest`` (a file, or a directory to put ``<id>.mp4`` in), atomically."""
    clip = get_clip(store, clip_id)
    if clip["status"] != "stored":
        raise Conflict(f"clip {clip_id} is {clip['status']}; its media is gone")
    target = dest / f"{clip_id}.mp4" if dest.is_dir() else dest
    try:
        with store.blobs.open(clip["sha256"]) as stream:
            write_atomically(target, _checked_chunks(stream, clip["sha256"]))
    except BlobMissing:
        raise Conflict(f"clip {clip_id} was deleted while being exported") from None
    except OSError as error:
        raise ClipwardenError(f"cannot write {dest}: {error.strerror or error}") from None
    return {"id": clip_id, "path": str(target.absolute()), "sha256": clip["sha256"]}


def delete_clip(
    store: Store, clip_id: str, at: datetime | None = None, request_id: str | None = None
) -> dict[str, Any]:
    """Delete the clip everywhere it is held, answering erasure request ``request_id`` if given; return
    the deletion certificate."""
    with store.begin() as conn:
        planned = plan_clips(conn, clips.c.id == clip_id)
        if not planned:
            raise NotFound(f"unknown clip id: {clip_id}")
        if planned[0].status == "deleted":
            raise Conflict(f"clip {clip_id} is already deleted")
        scope = ErasureScope("clip", clip_id, planned, "deleted", at or utc_now())
        certificate = erase(conn, store, scope, request_id)
    return completed(store, certificate, scope.at)


def sweep_retention(store: Store, at: datetime) -> dict[str, Any]:
    """Expire every stored clip whose retention ended at or before ``at``: media and derived data go,
    the row stays marked expired. Returns ``{expired: [ids], certificate_id}``."""
    require_aware(at, "sweep time")
    with store.begin() as conn:
        expired = plan_clips(conn, clips.c.status == "stored", clips.c.expires_at <= at)
        if not expired:
            return {"expired": [], "certificate_id": None}
        certificate = erase(conn, store, ErasureScope("retention", iso_utc(at), expired, "expired", at))
    completed(store, certificate, at)
    return {"expired": [clip.id for clip in expired], "certificate_id": certificate["certificate_id"]}


def fleet_stats(store: Store) -> dict[str, Any]:
    """Counts over stored clips, active households and cameras."""
    stored = clips.c.status == "stored"
    with store.connect() as conn:
        by_label = conn.execute(
            select(clips.c.ai_label, func.count()).where(stored).group_by(clips.c.ai_label).order_by(clips.c.ai_label)
        ).all()
        distinct_blobs = select(clips.c.blob_sha256, clips.c.size_bytes).where(stored).distinct().subquery()
        return {
            "clips": sum(count for _, count in by_label),
            "clips_by_label": {label: count for label, count in by_label},
            "alerts": _count(conn, select(func.count()).select_from(clips).where(stored, clips.c.ai_alert.is_(True))),
            "bytes_stored": _count(conn, select(func.coalesce(func.sum(distinct_blobs.c.size_bytes), 0))),
            "households": _count(
                conn, select(func.count()).select_from(households).where(households.c.status == "active")
            ),
            "cameras": _count(conn, select(func.count()).select_from(cameras)),
        }


def clip_document(row: Row[Any]) -> dict[str, Any]:
    """A clip row as the surfaces show it: CONTRACT's fields first, then the hash, size and AI verdict."""
    return {
        "id": row.id,
        "household_id": row.household_id,
        "camera_id": row.camera_id,
        "started_at": iso_utc(row.started_at),
        "duration_s": row.duration_s,
        "width": row.width,
        "height": row.height,
        "fps": row.fps,
        "codec": row.codec,
        "status": row.status,
        "expires_at": iso_utc(row.expires_at),
        "ai_label": row.ai_label,
        "ai_alert": row.ai_alert,
        "ai_confidence": row.ai_confidence,
        "sha256": row.blob_sha256,
        "size_bytes": row.size_bytes,
    }


def _recording_household(conn: Connection, camera_id: str) -> Row[Any]:
    household_id = conn.execute(select(cameras.c.household_id).where(cameras.c.id == camera_id)).scalar()
    if household_id is None:
        raise NotFound(f"unknown camera id: {camera_id}")
    return active_household(conn, household_id)


def _clip_recorded_at(conn: Connection, camera_id: str, started_at: datetime) -> str:
    found: str = conn.execute(
        select(clips.c.id).where(clips.c.camera_id == camera_id, clips.c.started_at == started_at)
    ).scalar_one()
    return found


def _clip_row(conn: Connection, clip_id: str) -> Row[Any]:
    row = conn.execute(select(clips).where(clips.c.id == clip_id)).first()
    if row is None:
        raise NotFound(f"unknown clip id: {clip_id}")
    return row


def _checked_chunks(stream: BinaryIO, sha256: str) -> Iterator[bytes]:
    """The stream's bytes, failing at the end (before anything is renamed into place) if they do not
    hash to ``sha256``."""
    digest = hashlib.sha256()
    while chunk := stream.read(_COPY_CHUNK):
        digest.update(chunk)
        yield chunk
    if digest.hexdigest() != sha256:
        raise ClipwardenError(f"stored media {sha256} is corrupt")


def _count(conn: Connection, query: Any) -> int:
    return int(conn.execute(query).scalar_one())
