"""Room models: how a camera's room usually looks on one day, kept for redaction (docs/renditions.md).

Redaction covers someone who stays still through a whole clip by comparing the clip with other clips of its
camera (``media.redact.room_samples``: their first keyframes, shrunk). Reading and decoding those clips for
every view was what the room cost; so the samples of a camera's clips of one day (UTC), and of the few
nearest before and after it, are decoded once, kept in one content-addressed file under the data dir
(``room-models/``) with a row naming the clips they came from, and each view of a clip of that day takes
the samples of its nearest other clips from there.

A room model is derived data about its clips. Its erasure step removes it with any of them (deletion,
expiry, household erasure) and lists it on the certificate; ``forget`` removes it when one is quarantined.
Every use first compares its sources with the clips it would be built from now (stored, not quarantined),
and builds it again if they differ: a model of a clip that is gone is never used. It holds
redaction's inputs only and is shown to no one: no pixel of another clip reaches a rendition.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import zip_longest
from typing import Any

import numpy as np
from sqlalchemy import Connection, delete, func, select

from clipwarden.errors import ClipwardenError
from clipwarden.media.redact import pack_room, room_samples, unpack_room
from clipwarden.store import BlobMissing, Store
from clipwarden.store.blobs import FileBlobStore
from clipwarden.store.erasure_steps import ALL_SUBJECTS, Artefact, ErasureScope, ErasureStep, register_erasure_step
from clipwarden.store.schema import clip_controls, clips, room_models
from clipwarden.store.sql import upsert

# The most clips of one day a model holds samples of, spread over the day: a busy camera's model stays
# small and quick to build.
MODEL_CLIPS = 24
_IN_BATCH = 500  # ids per IN (...), as in erasure
_models = room_models.c


@dataclass(frozen=True)
class _Source:
    clip_id: str
    started_at: datetime
    sha256: str


def model_store(store: Store) -> FileBlobStore:
    return FileBlobStore(store.data_dir / "room-models")


def room_for(store: Store, clip_id: str, count: int, at: datetime) -> list[np.ndarray]:
    """Redaction's samples of up to ``count`` other clips of the clip's camera, the nearest in time on either
    side first, from the model of the clip's day. The model is built at ``at`` first if there is none or its
    sources are not the clips it would be built from now. Raises ClipwardenError if a source is not a
    playable video."""
    with store.connect() as conn:
        clip = conn.execute(select(clips.c.camera_id, clips.c.started_at).where(clips.c.id == clip_id)).one()
        day = clip.started_at.astimezone(UTC).date()
        sources = _valid_sources(conn, clip.camera_id, day, count, at)
        model = conn.execute(select(room_models).where(_models.camera_id == clip.camera_id, _models.day == day)).first()
    nearest = _nearest([source for source in sources if source.clip_id != clip_id], clip.started_at, count)
    if not nearest:
        return []
    samples = _kept_samples(store, model, sources)
    if samples is None:
        samples = _build(store, clip.camera_id, day, count, sources, at)
    return [samples[source.clip_id] for source in nearest if source.clip_id in samples]


def forget(conn: Connection, store: Store, clip_ids: Iterable[str]) -> list[Artefact]:
    """Remove every room model derived from any of ``clip_ids``, row and file; report them."""
    gone = set(clip_ids)
    ids = sorted(gone)
    cameras: set[str] = set()
    for start in range(0, len(ids), _IN_BATCH):
        batch = ids[start : start + _IN_BATCH]
        cameras.update(conn.execute(select(clips.c.camera_id).where(clips.c.id.in_(batch)).distinct()).scalars())
    files = model_store(store)
    artefacts: list[Artefact] = []
    for camera_id in sorted(cameras):
        models = conn.execute(select(room_models).where(_models.camera_id == camera_id).order_by(_models.day)).all()
        for model in models:
            if gone.isdisjoint(model.sources):
                continue
            conn.execute(delete(room_models).where(_models.camera_id == camera_id, _models.day == model.day))
            _drop_file(conn, files, model.sha256)
            artefacts.append(
                {
                    "kind": "room_model",
                    "camera_id": camera_id,
                    "day": model.day.isoformat(),
                    "sha256": model.sha256,
                    "sources": list(model.sources),
                }
            )
    return artefacts


def _lock_clips(conn: Connection, clip_ids: Sequence[str]) -> None:
    """Row-lock the clips until the transaction ends, in the order erasure locks them (no deadlock).

    A model being built and the erasure of one of its clips then take turns: either the model is kept first
    and erased with the clip, or the build sees the clip gone and keeps nothing. A quarantine takes no clip
    lock (it would deadlock with erasure over the lease it stops); a model it crosses is kept but never
    used, and replaced at the next view of its day."""
    locked = select(clips.c.id).where(clips.c.id.in_(clip_ids)).order_by(clips.c.started_at, clips.c.id)
    conn.execute(locked.with_for_update()).all()


def _valid_sources(conn: Connection, camera_id: str, day: date, count: int, at: datetime) -> list[_Source]:
    """The camera's clips that redaction may read at ``at`` (stored and within their retention, not
    quarantined) for views of its clips of ``day``,
    in recording order: that day's (MODEL_CLIPS of them spread evenly when there are more) and the ``count``
    nearest before and after it, so that a view near midnight has neighbours on both sides."""
    start = datetime.combine(day, time(), UTC)
    end = start + timedelta(days=1)
    readable = (
        select(clips.c.id, clips.c.started_at, clips.c.blob_sha256)
        .outerjoin(clip_controls, clip_controls.c.clip_id == clips.c.id)
        .where(
            clips.c.camera_id == camera_id,
            clips.c.status == "stored",
            clips.c.expires_at > at,
            clip_controls.c.quarantined_at.is_(None),
        )
    )
    before = readable.where(clips.c.started_at < start).order_by(clips.c.started_at.desc(), clips.c.id.desc())
    during = readable.where(clips.c.started_at >= start, clips.c.started_at < end)
    after = readable.where(clips.c.started_at >= end)
    in_order = (clips.c.started_at, clips.c.id)
    rows = conn.execute(during.order_by(*in_order)).all()
    if len(rows) > MODEL_CLIPS:
        rows = [rows[round(index * (len(rows) - 1) / (MODEL_CLIPS - 1))] for index in range(MODEL_CLIPS)]
    rows = [
        *reversed(conn.execute(before.limit(count)).all()),
        *rows,
        *conn.execute(after.order_by(*in_order).limit(count)).all(),
    ]
    return [_Source(*row) for row in rows]


def _nearest(others: Sequence[_Source], started_at: datetime, count: int) -> list[_Source]:
    """Up to ``count`` of ``others`` (in recording order), alternately the nearest before and after."""
    earlier = [source for source in reversed(others) if source.started_at <= started_at]
    later = [source for source in others if source.started_at > started_at]
    return [source for pair in zip_longest(earlier, later) for source in pair if source is not None][:count]


def _kept_samples(store: Store, model: Any, sources: Sequence[_Source]) -> dict[str, np.ndarray] | None:
    """The kept model's samples by clip id; None if there is none, or it is not of exactly these sources,
    or its file is gone or unreadable (then it is built again)."""
    if model is None or list(model.sources) != [source.clip_id for source in sources]:
        return None
    try:
        return dict(zip(model.sources, unpack_room(model_store(store).get(model.sha256)), strict=True))
    except (ClipwardenError, ValueError):  # ValueError: a file of another length than its sources
        return None


def _build(
    store: Store, camera_id: str, day: date, count: int, sources: Sequence[_Source], at: datetime
) -> dict[str, np.ndarray]:
    """Decode the sources' samples and keep them as the day's model, unless a source went meanwhile: then
    the samples of those that remain are used for this view and not kept."""
    media: dict[str, bytes] = {}
    for source in sources:
        try:
            media[source.clip_id] = store.blobs.get(source.sha256)
        except BlobMissing:  # erased since the query
            continue
    samples = dict(zip(media, room_samples(media.values()), strict=True))
    if not samples:
        return {}
    files = model_store(store)
    with store.begin() as conn:
        _lock_clips(conn, list(samples))
        remaining = [source.clip_id for source in _valid_sources(conn, camera_id, day, count, at)]
        if remaining != list(samples):
            return {clip_id: samples[clip_id] for clip_id in remaining if clip_id in samples}
        key = (_models.camera_id == camera_id, _models.day == day)
        replaced = conn.execute(select(_models.sha256).where(*key)).scalar()
        sha256 = files.put(pack_room(list(samples.values())))
        row = {"camera_id": camera_id, "day": day, "sha256": sha256, "sources": remaining, "built_at": at}
        upsert(conn, room_models, row, key=["camera_id", "day"])
        if replaced is not None and replaced != sha256:
            _drop_file(conn, files, replaced)
    return samples


def _drop_file(conn: Connection, files: FileBlobStore, sha256: str) -> None:
    """Delete a model's file unless another model's row names the same bytes."""
    if not conn.execute(select(func.count()).select_from(room_models).where(_models.sha256 == sha256)).scalar_one():
        files.delete(sha256)


def _erase_room_models(conn: Connection, store: Store, scope: ErasureScope) -> list[Artefact]:
    return forget(conn, store, scope.clip_ids)


def _room_models_gone(store: Store, artefacts: list[Artefact]) -> bool:
    files = model_store(store)
    return all(not files.exists(artefact["sha256"]) for artefact in artefacts)


register_erasure_step(ErasureStep("room_models", ALL_SUBJECTS, _erase_room_models, _room_models_gone, order=40))
