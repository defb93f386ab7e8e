"""What a reviewer may do, each request through the enforcement point first (invariants 1, 2, 4, 5).

A reviewer sees task tokens, never clip ids, households or owners. Asking for work leases a task and makes
a rendition for this viewing session: people redacted unless the owner opted in, the reviewer's pseudonym
and the time drawn on every frame, and the session's payload hidden in the pixels (`trace`). The media URL
is signed, short-lived and bound to the credential that asked for it; every fetch passes the gate again, so
a withdrawal or deletion stops a clip being served at once. Answers are accepted only on a running lease.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, func, select
from sqlalchemy.exc import OperationalError

from clipwarden.domain import LABELS
from clipwarden.errors import ClipwardenError, Conflict, NotFound
from clipwarden.media.redact import Redaction
from clipwarden.media.rendition import make_rendition
from clipwarden.media.rendition import trace as read_watermark
from clipwarden.policy import gate
from clipwarden.policy.decision import Action, Actor, Decision
from clipwarden.policy.gate import Circumstances, Denied
from clipwarden.review import leases, queue, renditions
from clipwarden.review.leases import HUMAN_REVIEW, Lease, ReviewSettings
from clipwarden.services import clips as clip_service
from clipwarden.services import room_models, screening
from clipwarden.services.audit_trail import after_retraction, log_change
from clipwarden.signing import secret
from clipwarden.store import Store, datasets
from clipwarden.store.erasure_steps import ALL_SUBJECTS, Artefact, ErasureScope, ErasureStep, register_erasure_step
from clipwarden.store.schema import (
    clips,
    consolidations,
    dataset_exports,
    notifications,
    review_leases,
    review_tasks,
    users,
    view_sessions,
)
from clipwarden.store.schema import review_annotations as annotation_rows
from clipwarden.times import iso_utc

WATERMARK_KEY = "watermark"
URL_KEY = "media-url"
MEDIA_URL_TTL = timedelta(minutes=5)
# Other clips of the camera that redaction reads to see the room without whoever stays still in this one.
ROOM_CLIPS = 5
_OFFER_ATTEMPTS = 3
_sessions = view_sessions.c

# What a reviewer may send for a task (CONTRACT), as JSON Schema; the HTTP layer validates the same.
ANNOTATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["label"],
    "properties": {
        "label": {"enum": list(LABELS)},
        "ai_correct": {"type": ["boolean", "null"]},
        "segments": {
            "type": "array",
            "maxItems": 50,
            "items": {
                "type": "object",
                "required": ["start_s", "end_s", "label"],
                "properties": {
                    "start_s": {"type": "number", "minimum": 0},
                    "end_s": {"type": "number", "minimum": 0},
                    "label": {"enum": list(LABELS)},
                },
            },
        },
        "boxes": {
            "type": "array",
            "maxItems": 200,
            "items": {
                "type": "object",
                "required": ["t_s", "x", "y", "w", "h"],
                "properties": {key: {"type": "number", "minimum": 0} for key in ("t_s", "x", "y", "w", "h")},
            },
        },
    },
}


@dataclass(frozen=True)
class Answer:
    label: str
    ai_correct: bool | None = None
    segments: tuple[dict[str, Any], ...] = ()
    boxes: tuple[dict[str, Any], ...] = ()


def request_work(
    store: Store,
    reviewer: Actor,
    credential: str,
    at: datetime,
    settings: ReviewSettings = ReviewSettings(),
    holding: Sequence[str] = (),
) -> dict[str, Any] | None:
    """Lease a task (or hand back one already held and not in ``holding``) and a fresh media URL for it;
    None when nothing may be offered. ``credential`` fingerprints the token or session that asked."""
    _require_reviewer(reviewer)
    lease, known = _offer(store, reviewer, credential, at, settings, holding)
    renditions.purge_ended(store)
    if lease is None:
        return None
    session = known or _open_session(store, reviewer, credential, lease, at, settings)
    return _work_document(store, lease, session, credential, at)


def _offer(
    store: Store, reviewer: Actor, credential: str, at: datetime, settings: ReviewSettings, holding: Sequence[str]
) -> tuple[Lease | None, dict[str, Any] | None]:
    """The offer in a transaction of its own. Two offers waiting on each other's last candidates can meet
    in a deadlock on PostgreSQL, which aborts one; that one is asked again."""
    attempts = 0
    while True:
        try:
            with store.begin() as conn:
                lease = leases.offer(conn, reviewer, at, settings, holding)
                return lease, _live_session(conn, lease, credential, at) if lease is not None else None
        except OperationalError as error:
            attempts += 1
            if "deadlock" not in str(error.orig).lower() or attempts == _OFFER_ATTEMPTS:
                raise


def media_path(
    store: Store,
    reviewer: Actor,
    credential: str,
    session_id: str,
    expires: int,
    signature: str,
    at: datetime,
    settings: ReviewSettings = ReviewSettings(),
) -> Path:
    """The rendition file for a signed media URL, after the URL checks out and the gate allows the view
    again at ``at`` (logged). Expired, altered or another credential's URLs are Denied."""
    _require_reviewer(reviewer)
    # As bytes: compare_digest refuses str with characters outside ASCII, and any signature may arrive.
    if not hmac.compare_digest(signature.encode(), _url_signature(store, session_id, expires, credential).encode()):
        raise Denied("media URL is not valid for this session")
    if expires < at.timestamp():
        raise Denied("media URL has expired; ask for the task again")
    with store.connect() as conn:
        session = conn.execute(select(view_sessions).where(_sessions.id == session_id)).first()
        if session is None or session.reviewer_id != reviewer.id:
            raise Denied("media URL is not valid for this session")
        lease = leases.lease_of(conn, reviewer, session.lease_id)
        if session.ended_at is not None or session.rendition_sha256 is None:
            raise Denied("this viewing session has ended")
        seen = leases.circumstances(conn, lease, at, settings)
    _require(store, reviewer, "view_media", lease, at, seen)
    return renditions.rendition_store(store).path(session.rendition_sha256)


def annotate(
    store: Store, reviewer: Actor, token: str, answer: Answer, at: datetime, settings: ReviewSettings = ReviewSettings()
) -> dict[str, Any]:
    """Record the reviewer's answer on a running lease; the lease ends, and the task is done once it has
    its answers. Refused, with nothing written, on another reviewer's token or an ended lease."""
    _require_reviewer(reviewer)
    _check_answer(answer)
    with store.connect() as conn:
        lease = leases.lease_of(conn, reviewer, token)
        seen = leases.circumstances(conn, lease, at, settings)
    if lease.status != "active" or not lease.live_at(at):
        raise Conflict(f"the lease on this task has ended ({'expired' if lease.status == 'active' else lease.status})")
    _require(store, reviewer, "annotate", lease, at, seen)
    with store.begin() as conn:
        lease = leases.live_lease(conn, reviewer, token, at)
        annotation_id = _insert_annotation(conn, lease, answer, at)
        leases.end(conn, [lease.token], "submitted", at)
        done = not lease.gold and _close_if_answered(conn, lease.task_id, at)
        log_change(conn, "annotation", at, {"annotation_id": annotation_id, "task_token": token, "label": answer.label})
    renditions.purge_ended(store)
    return {"annotation_id": annotation_id, "task_token": token, "task_done": done, "submitted_at": iso_utc(at)}


def flag_private(store: Store, reviewer: Actor, token: str, at: datetime) -> dict[str, Any]:
    """ "Private content: stop": the view ends at once, the clip is quarantined and leaves every queue,
    every other lease on it ends, and its owner is told. Logged."""
    _require_reviewer(reviewer)
    with store.begin() as conn:
        lease = leases.live_lease(conn, reviewer, token, at)
        leases.end(conn, [lease.token], "stopped", at)
        screening.quarantine(conn, lease.clip_id, at, "a reviewer stopped the view: private content")
        removed = queue.remove_for_clips(conn, [lease.clip_id], at, "clip quarantined")
        leases.revoke_for_clips(conn, [lease.clip_id], at)
        forgotten = room_models.forget(conn, store, [lease.clip_id])
        datasets.retract_clips(conn, [lease.clip_id], at, "a reviewer quarantined a clip as private")
        _notify_owner(conn, lease.clip_id, at)
        log_change(
            conn,
            "quarantine",
            at,
            {
                "clip_id": lease.clip_id,
                "task_token": token,
                "by": reviewer.id,
                "tasks_removed": len(removed),
                "room_models_removed": len(forgotten),
            },
        )
    after_retraction(store, at)  # the ended leases' renditions go; models that learned the clip forget it
    return {"task_token": token, "stopped_at": iso_utc(at), "quarantined": True}


def trace(store: Store, data: bytes) -> dict[str, Any]:
    """Where a leaked copy came from: the viewing session (``{session, task, reviewer, confidence}``) or the
    dataset export (``{export, snapshot_id, confidence}``) whose payload it carries. Exports are marked with
    the same key, so one reading finds either."""
    found = read_watermark(data, secret(store.data_dir, WATERMARK_KEY))
    if found.payload is None:
        raise NotFound(f"no watermark of this installation found (confidence {found.confidence:.1f})")
    payload = f"{found.payload:016x}"
    with store.connect() as conn:
        row = conn.execute(
            select(view_sessions, users.c.pseudonym)
            .join(users, users.c.id == _sessions.reviewer_id)
            .where(_sessions.payload == payload)
        ).first()
        exported = (
            None
            if row is not None
            else conn.execute(select(dataset_exports).where(dataset_exports.c.payload == payload)).first()
        )
    confidence = round(found.confidence, 2)
    if exported is not None:
        return {
            "export": exported.id,
            "snapshot_id": exported.snapshot_id,
            "format": exported.format,
            "exported_at": iso_utc(exported.created_at),
            "confidence": confidence,
            "frames": found.frames,
        }
    if row is None:
        raise NotFound(f"watermark {payload} names no viewing session or export")
    return {
        "session": row.id,
        "task": row.lease_id,
        "reviewer": row.pseudonym,
        "reviewer_id": row.reviewer_id,
        "viewed_at": iso_utc(row.created_at),
        "confidence": confidence,
        "frames": found.frames,
    }


def credential_fingerprint(secret_value: str) -> str:
    """What a media URL is bound to: the SHA-256 of the bearer token or session cookie that asked."""
    return hashlib.sha256(secret_value.encode()).hexdigest()


def _require(
    store: Store, reviewer: Actor, action: Action, lease: Lease, at: datetime, seen: Circumstances
) -> Decision:
    """The gate for a reviewer's request on a leased clip. A refusal names the task, never the clip
    (invariant 4): the reviewer knows only the task token."""
    decision = gate.check(store, gate.Ask(reviewer, action, lease.clip_id, HUMAN_REVIEW, at, seen))
    if not decision.allow:
        raise Denied(f"denied for this task: {_as_reviewer_sees_it(decision.reason)}")
    return decision


def _as_reviewer_sees_it(reason: str) -> str:
    """The audit log keeps the full reason; a reviewer is not told where the clip's household is."""
    if reason.startswith(("residency:", "the owner did not agree to review at site")):
        return "not for review at your site"
    return reason


def _require_reviewer(actor: Actor) -> None:
    if actor.role != "reviewer":
        raise Denied(f"role {actor.role} does not review clips")


def _live_session(conn: Connection, lease: Lease, credential: str, at: datetime) -> dict[str, Any] | None:
    """The lease's running viewing session for this credential, if one was opened already."""
    row = conn.execute(
        select(view_sessions)
        .where(
            _sessions.lease_id == lease.token,
            _sessions.credential_sha256 == credential,
            _sessions.ended_at.is_(None),
            _sessions.rendition_sha256.is_not(None),
        )
        .order_by(_sessions.created_at.desc())
    ).first()
    return None if row is None else dict(row._mapping)


def _open_session(
    store: Store, reviewer: Actor, credential: str, lease: Lease, at: datetime, settings: ReviewSettings
) -> dict[str, Any]:
    """Decide (logged) that the reviewer may view the clip, then make this session's rendition."""
    with store.connect() as conn:
        seen = leases.circumstances(conn, lease, at, settings)
    try:
        decision = _require(store, reviewer, "view_media", lease, at, seen)
    except Denied:
        with store.begin() as conn:
            leases.end(conn, [lease.token], "revoked", at)
        raise
    payload = secrets.randbits(64)
    clip = clip_service.get_clip(store, lease.clip_id)
    redaction: Redaction = "none" if decision.unredacted else "pixelate"
    data = make_rendition(
        store.blobs.get(clip["sha256"]),
        pseudonym=reviewer.shown_as,
        viewed_at=at,
        payload=payload,
        key=secret(store.data_dir, WATERMARK_KEY),
        redaction=redaction,
        room=[] if redaction == "none" else room_models.room_for(store, lease.clip_id, ROOM_CLIPS, at),
    )
    session = {
        "id": f"vs_{uuid.uuid4().hex}",
        "payload": f"{payload:016x}",
        "lease_id": lease.token,
        "reviewer_id": reviewer.id,
        "credential_sha256": credential,
        "redaction": redaction,
        "created_at": at,
        "expires_at": lease.expires_at,
        "rendition_sha256": renditions.rendition_store(store).put(data),
        "rendition_bytes": len(data),
    }
    with store.begin() as conn:
        conn.execute(view_sessions.insert().values(session))
    return session


def _work_document(
    store: Store, lease: Lease, session: dict[str, Any], credential: str, at: datetime
) -> dict[str, Any]:
    expires = int(min(at + MEDIA_URL_TTL, lease.expires_at).timestamp())
    signature = _url_signature(store, session["id"], expires, credential)
    with store.connect() as conn:
        clip = conn.execute(select(clips.c.duration_s, clips.c.ai_label).where(clips.c.id == lease.clip_id)).one()
    return {
        "task_token": lease.token,
        "media_url": f"/api/review/media/{session['id']}?expires={expires}&signature={signature}",
        "expires_at": iso_utc(lease.expires_at),
        "media_expires_at": iso_utc(datetime.fromtimestamp(expires, UTC)),
        "duration_s": clip.duration_s,
        "ai_label": clip.ai_label,
        "redacted": session["redaction"] != "none",
        "schema": ANNOTATION_SCHEMA,
    }


def _url_signature(store: Store, session_id: str, expires: int, credential: str) -> str:
    message = f"{session_id}.{expires}.{credential}".encode()
    return hmac.new(secret(store.data_dir, URL_KEY), message, hashlib.sha256).hexdigest()


def _check_answer(answer: Answer) -> None:
    if answer.label not in LABELS:
        raise ClipwardenError(f"unknown label {answer.label!r}; one of {', '.join(LABELS)}")
    for segment in answer.segments:
        if segment["label"] not in LABELS:
            raise ClipwardenError(f"unknown segment label {segment['label']!r}")
        if not 0 <= segment["start_s"] < segment["end_s"] <= 60:
            raise ClipwardenError("each segment needs 0 <= start_s < end_s <= 60")
    for box in answer.boxes:
        if not (box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["w"] <= 1 and box["y"] + box["h"] <= 1):
            raise ClipwardenError("boxes are fractions of the frame: 0 <= x, y and x + w, y + h <= 1")


def _insert_annotation(conn: Connection, lease: Lease, answer: Answer, at: datetime) -> str:
    annotation_id = f"ann_{uuid.uuid4().hex}"
    conn.execute(
        annotation_rows.insert().values(
            id=annotation_id,
            lease_id=lease.token,
            task_id=lease.task_id,
            clip_id=lease.clip_id,
            reviewer_id=lease.reviewer_id,
            label=answer.label,
            ai_correct=answer.ai_correct,
            segments=list(answer.segments),
            boxes=list(answer.boxes),
            gold=lease.gold,
            submitted_at=at,
        )
    )
    return annotation_id


def _close_if_answered(conn: Connection, task_id: str, at: datetime) -> bool:
    answers = select(func.count()).select_from(annotation_rows).where(annotation_rows.c.task_id == task_id)
    answered = conn.execute(answers)
    needed = conn.execute(select(review_tasks.c.answers_needed).where(review_tasks.c.id == task_id)).scalar_one()
    if answered.scalar_one() < needed:
        return False
    conn.execute(
        review_tasks.update()
        .where(review_tasks.c.id == task_id, review_tasks.c.status == "queued")
        .values(status="done", closed_at=at, closed_reason="answered")
    )
    return True


def _notify_owner(conn: Connection, clip_id: str, at: datetime) -> None:
    household_id = conn.execute(select(clips.c.household_id).where(clips.c.id == clip_id)).scalar_one()
    conn.execute(
        notifications.insert().values(
            household_id=household_id,
            clip_id=clip_id,
            kind="clip_quarantined",
            text=(
                "A reviewer stopped watching one of your shared clips because it may show private content. "
                "The clip was taken out of review and will not be shown to anyone else; it stays in your "
                "account, where you can delete it."
            ),
            at=at,
        )
    )


# Erasure: the clip's annotations and consolidated labels go (no future training set can use them); running
# leases end and their renditions are deleted. Lease and session rows stay: they are the record of who
# watched, and `trace` must still name the session of a copy that leaked before the deletion.


def _erase_review_data(conn: Connection, store: Store, scope: ErasureScope) -> list[Artefact]:
    artefacts: list[Artefact] = []
    ids = list(scope.clip_ids)
    for start in range(0, len(ids), 500):
        batch = ids[start : start + 500]
        for table, kind in ((annotation_rows, "annotation"), (consolidations, "consolidated_label")):
            key = table.c.id if table is annotation_rows else table.c.task_id
            removed = conn.execute(delete(table).where(table.c.clip_id.in_(batch)).returning(key)).scalars()
            artefacts += [{"kind": kind, "id": value} for value in sorted(removed)]
        for token in leases.revoke_for_clips(conn, batch, scope.at):
            artefacts.append({"kind": "review_lease_ended", "task_token": token})
    return artefacts


def _erase_renditions(conn: Connection, store: Store, scope: ErasureScope) -> list[Artefact]:
    files = renditions.rendition_store(store)
    artefacts: list[Artefact] = []
    ids = list(scope.clip_ids)
    for start in range(0, len(ids), 500):
        rows = conn.execute(
            select(_sessions.id, _sessions.rendition_sha256)
            .join(review_leases, review_leases.c.id == _sessions.lease_id)
            .where(review_leases.c.clip_id.in_(ids[start : start + 500]), _sessions.rendition_sha256.is_not(None))
        ).all()
        for session_id, sha256 in rows:
            renditions.remove(conn, files, session_id, sha256)
            artefacts.append({"kind": "rendition", "session": session_id, "sha256": sha256})
    return artefacts


def _erase_notifications(conn: Connection, store: Store, scope: ErasureScope) -> list[Artefact]:
    """Messages to the owner about the erased clips (all the household's, when it is erased)."""
    table = notifications
    if scope.subject_type == "household":
        criteria = [table.c.household_id == scope.subject_id]
    else:
        ids = list(scope.clip_ids)
        criteria = [table.c.clip_id.in_(ids[start : start + 500]) for start in range(0, len(ids), 500)]
    removed: list[int] = []
    for criterion in criteria:
        removed += conn.execute(delete(table).where(criterion).returning(table.c.id)).scalars()
    return [{"kind": "owner_notification", "id": notification_id} for notification_id in sorted(removed)]


def _renditions_gone(store: Store, artefacts: list[Artefact]) -> bool:
    files = renditions.rendition_store(store)
    return all(not files.exists(artefact["sha256"]) for artefact in artefacts)


register_erasure_step(ErasureStep("review_data", ALL_SUBJECTS, _erase_review_data, order=39))
register_erasure_step(ErasureStep("owner_notifications", ALL_SUBJECTS, _erase_notifications, order=39))
register_erasure_step(ErasureStep("renditions", ALL_SUBJECTS, _erase_renditions, _renditions_gone, order=95))
