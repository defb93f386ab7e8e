"""Dataset exports at the edge: a snapshot written for outside tools (CVAT for video, Label Studio, COCO).

Each export is a gated, logged decision. Every item's clip goes through the enforcement point at the time of
export (the dataset job, role ``system``, action ``export``, purpose ``automated_training``, which the same
consents cover as training); items it refuses are left out and counted by its reason. The media are made
like a reviewer's rendition (``media/rendition.py``): people redacted unless the owner allowed unredacted use,
and the export's own payload hidden in every frame, so that ``clipwarden trace`` names the export a leaked clip
or keyframe came from. Boxes are the reviewers' where they drew some, else the camera's motion detector run
over the stored clip again (``learn/features.py``), marked machine-made.

The files are written to a staging directory beside the target and moved into place in the transaction that
stores the export and its audit entry, so a refusal or a failure leaves no files and no rows behind.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from clipwarden.errors import ClipwardenError
from clipwarden.learn import export_formats as formats
from clipwarden.learn.datasets import PURPOSE, live_snapshot
from clipwarden.learn.export_formats import ExportItem, Format
from clipwarden.learn.features import observe
from clipwarden.learn.snapshots import gate_exclusion
from clipwarden.learn.training import camera_of
from clipwarden.media.capture import track_from_document
from clipwarden.media.codec import probe
from clipwarden.media.redact import Redaction
from clipwarden.media.rendition import make_rendition, stills
from clipwarden.policy import gate
from clipwarden.policy.decision import Actor, Decision
from clipwarden.services import room_models
from clipwarden.services.audit_trail import log_change
from clipwarden.services.reviewer import ROOM_CLIPS, WATERMARK_KEY
from clipwarden.signing import secret
from clipwarden.store import Store
from clipwarden.store.schema import (
    clips,
    dataset_export_items,
    dataset_exports,
    dataset_items,
    review_annotations,
)
from clipwarden.times import iso_utc

EXPORT_JOB = Actor("dataset-export", "system", pseudonym="dataset export (outside tools)")  # <= 40
MANIFEST = "clipwarden-export.json"


class ExportRefused(ClipwardenError):
    """The export was refused before anything was written; the attempt is logged."""


@dataclass(frozen=True)
class _Allowed:
    item_id: str
    clip_id: str
    record: dict[str, Any]
    decision: Decision


def export(store: Store, snapshot_id: str, directory: Path, fmt: str, at: datetime) -> dict[str, Any]:
    """Write snapshot ``snapshot_id`` to ``directory`` (new or empty) in ``fmt``, and record the export."""
    try:
        chosen = _format(fmt)
        live_snapshot(store, snapshot_id, ExportRefused, "export a new one")
        target = _target(directory)
        allowed, excluded = _ask_gate(store, snapshot_id, at)
        if not allowed:
            raise ExportRefused(f"no item of snapshot {snapshot_id} may be exported now; refused: {_counts(excluded)}")
        return _write(store, snapshot_id, chosen, target, allowed, excluded, at)
    except ClipwardenError as refused:  # bad input, or a clip that would not render: nothing was kept
        with store.begin() as conn:
            fields = {"refused": str(refused), "snapshot_id": snapshot_id, "format": fmt}
            log_change(conn, "dataset_export", at, fields)
        raise


def _format(fmt: str) -> Format:
    for known in formats.FORMATS:
        if fmt == known:
            return known
    raise ExportRefused(f"unknown export format {fmt!r}; one of {', '.join(formats.FORMATS)}")


def _target(directory: Path) -> Path:
    """The export's directory: new, or existing and empty, in a writable parent (checked before any work)."""
    target = directory.absolute()
    if target.exists() and not target.is_dir():
        raise ExportRefused(f"cannot export to {directory}: it is not a directory")
    if target.is_dir() and any(target.iterdir()):
        raise ExportRefused(f"cannot export to {directory}: it is not empty (an export goes to a new or empty one)")
    parent = target.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ExportRefused(f"cannot export to {directory}: cannot write in {parent}")
    return target


def _ask_gate(store: Store, snapshot_id: str, at: datetime) -> tuple[list[_Allowed], dict[str, int]]:
    """Each item's clip through the enforcement point now (each a logged decision)."""
    with store.connect() as conn:
        rows = conn.execute(
            select(dataset_items.c.item_id, dataset_items.c.clip_id, dataset_items.c.record)
            .where(dataset_items.c.snapshot_id == snapshot_id)
            .order_by(dataset_items.c.item_id)
        ).all()
    allowed, excluded = [], Counter[str]()
    for row in rows:
        decision = gate.check(store, gate.Ask(EXPORT_JOB, "export", row.clip_id, PURPOSE, at))
        if decision.allow:
            allowed.append(_Allowed(row.item_id, row.clip_id, dict(row.record), decision))
        else:
            excluded[gate_exclusion(decision.reason)] += 1
    return allowed, dict(sorted(excluded.items()))


def _write(
    store: Store,
    snapshot_id: str,
    fmt: Format,
    target: Path,
    allowed: list[_Allowed],
    excluded: dict[str, int],
    at: datetime,
) -> dict[str, Any]:
    export_id, payload = f"exp_{uuid.uuid4().hex[:16]}", secrets.randbits(64)
    key = secret(store.data_dir, WATERMARK_KEY)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    published = False
    try:
        items = [_write_item(store, staging, found, fmt, payload, key, at) for found in allowed]
        files = _write_documents(staging, fmt, items, export_id, payload, key)
        _write_manifest(staging, export_id, snapshot_id, fmt, at, items, files)
        fields = {
            "export_id": export_id,
            "snapshot_id": snapshot_id,
            "format": fmt,
            "items": len(items),
            "excluded": excluded,
        }
        with store.begin() as conn:
            audit_index = log_change(conn, "dataset_export", at, fields)
            _insert(conn, fields, allowed, target, payload, at, audit_index)
            staging.replace(target)  # an empty target is replaced; in the transaction, so a failure undoes it
            published = True
    except BaseException:
        shutil.rmtree(target if published else staging, ignore_errors=True)
        raise
    return fields | {"path": str(target), "created_at": iso_utc(at), "audit_index": audit_index, "files": len(files)}


def _insert(
    conn: Connection,
    fields: dict[str, Any],
    allowed: list[_Allowed],
    target: Path,
    payload: int,
    at: datetime,
    index: int,
) -> None:
    conn.execute(
        dataset_exports.insert().values(
            id=fields["export_id"],
            snapshot_id=fields["snapshot_id"],
            format=fields["format"],
            created_at=at,
            path=str(target),
            payload=f"{payload:016x}",
            items=fields["items"],
            excluded=fields["excluded"],
            audit_index=index,
        )
    )
    conn.execute(
        dataset_export_items.insert(),
        [
            {
                "export_id": fields["export_id"],
                "item_id": found.item_id,
                "clip_id": found.clip_id,
                "consent_id": found.decision.consent_id,
            }
            for found in allowed
        ],
    )


def _write_item(
    store: Store, root: Path, found: _Allowed, fmt: Format, payload: int, key: bytes, at: datetime
) -> ExportItem:
    """The item's facts, and its clip rendered for export (COCO keeps stills of it, written later)."""
    with store.connect() as conn:
        clip = conn.execute(select(clips).where(clips.c.id == found.clip_id)).one()
        camera = camera_of(conn, clip.camera_id)
        answers = conn.execute(
            select(review_annotations.c.label, review_annotations.c.boxes, review_annotations.c.segments)
            .where(review_annotations.c.clip_id == found.clip_id)
            .order_by(review_annotations.c.submitted_at, review_annotations.c.id)
        ).all()
    original = store.blobs.get(clip.blob_sha256)
    # The owner's word at export time wins over the snapshot's: unredacted only if both allow it.
    redacted = bool(found.record["redacted"]) or not found.decision.unredacted
    redaction: Redaction = "pixelate" if redacted else "none"
    video = make_rendition(
        original,
        pseudonym="dataset export",
        viewed_at=at,
        payload=payload,
        key=key,
        redaction=redaction,
        room=room_models.room_for(store, found.clip_id, ROOM_CLIPS, at) if redacted else [],
        visible=False,
    )
    relative = f"videos/{found.item_id}.mp4"
    (root / "videos").mkdir(exist_ok=True)
    (root / relative).write_bytes(video)
    info = probe(video)
    fps, frames = round(info.fps), info.frames
    label = str(found.record["label"])
    tracks = formats.reviewer_tracks([(answer.label, answer.boxes) for answer in answers], fps, frames)
    if not tracks:  # nobody drew a box: the camera's motion detector does, marked machine-made
        recorded = clip.motion_track
        motion = observe(original, camera) if recorded is None else track_from_document(recorded)
        tracks = formats.motion_tracks(motion.boxes, label)
    return ExportItem(
        item_id=found.item_id,
        label=label,
        confidence=float(found.record["confidence"]),
        redacted=redacted,
        video=relative,
        width=info.width,
        height=info.height,
        fps=fps,
        frames=frames,
        tracks=tuple(tracks),
        segments=tuple(formats.segments_of([answer.segments for answer in answers], fps, frames)),
    )


def _write_documents(
    root: Path, fmt: Format, items: list[ExportItem], export_id: str, payload: int, key: bytes
) -> list[str]:
    """The format's documents (and COCO's keyframe images); the export's files, relative to its root."""
    written = [item.video for item in items]
    if fmt == "cvat-video":
        (root / "annotations").mkdir()
        for item in items:
            (root / "annotations" / f"{item.item_id}.xml").write_bytes(formats.cvat_video(item, export_id))
            written.append(f"annotations/{item.item_id}.xml")
    elif fmt == "label-studio":
        fps = Counter(item.fps for item in items).most_common(1)[0][0]
        (root / "config.xml").write_text(formats.label_studio_config(fps), encoding="utf-8")
        tasks = [formats.label_studio_task(item, export_id) for item in items]
        (root / "tasks.json").write_text(json.dumps(tasks, indent=1), encoding="utf-8")
        written += ["config.xml", "tasks.json"]
    else:
        images = _write_keyframes(root, items, payload, key)
        (root / "annotations").mkdir()
        document = formats.coco(items, images, export_id)
        (root / "annotations" / "instances_default.json").write_text(json.dumps(document), encoding="utf-8")
        # COCO is images only: the clips were needed to cut the keyframes from, and do not go out.
        for item in items:
            (root / item.video).unlink()
        (root / "videos").rmdir()
        written = [*(f"images/default/{name}" for name in images.values()), "annotations/instances_default.json"]
    return written


def _write_keyframes(root: Path, items: list[ExportItem], payload: int, key: bytes) -> dict[tuple[str, int], str]:
    """Each item's keyframes as PNG stills of its rendition, each carrying the export's payload whole."""
    folder = root / "images" / "default"
    folder.mkdir(parents=True)
    names: dict[tuple[str, int], str] = {}
    for item in items:
        wanted = formats.keyframes(item)
        for frame, png in stills((root / item.video).read_bytes(), wanted, payload=payload, key=key).items():
            name = f"{item.item_id}_f{frame:06d}.png"
            (folder / name).write_bytes(png)
            names[(item.item_id, frame)] = name  # COCO's file_name: relative to the subset's image folder
    return names


def _write_manifest(
    root: Path,
    export_id: str,
    snapshot_id: str,
    fmt: Format,
    at: datetime,
    items: list[ExportItem],
    files: list[str],
) -> None:
    """What the export holds and where it came from, for whoever receives it."""
    manifest = {
        "export_id": export_id,
        "snapshot_id": snapshot_id,
        "format": fmt,
        "created_at": iso_utc(at),
        "items": [
            {
                "item_id": item.item_id,
                "label": item.label,
                "confidence": item.confidence,
                "redacted": item.redacted,
                "boxes": "machine-made" if any(t.machine_made for t in item.tracks) else "reviewers",
            }
            for item in items
        ],
        "files": sorted(files),
    }
    (root / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")


def _counts(excluded: dict[str, int]) -> str:
    return ", ".join(f"{reason} {count}" for reason, count in excluded.items()) or "the snapshot has no items left"
