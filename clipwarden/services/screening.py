"""Running the sensitive-content screen on a stored clip, and the hold it places on human review.

The screen reads the clip's pixels as a machine, not for a person; its verdict is kept with the clip
(`clip_controls`) and logged, and the enforcement point holds a flagged clip from reviewers until its
owner confirms after a warning.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from clipwarden.media.screen import screen_clip
from clipwarden.services import clips as clip_service
from clipwarden.services.audit_trail import log_change
from clipwarden.store import Store
from clipwarden.store.schema import cameras, clip_controls, clips
from clipwarden.store.sql import upsert
from clipwarden.times import iso_utc

_controls = clip_controls.c


def ensure_screened(store: Store, clip_id: str, at: datetime) -> dict[str, Any]:
    """The clip's screen verdict, screening it first if it never was."""
    with store.connect() as conn:
        known = _verdict(conn, clip_id)
    if known is not None:
        return known
    clip = clip_service.get_clip(store, clip_id)
    with store.connect() as conn:
        placement = conn.execute(select(cameras.c.placement).where(cameras.c.id == clip["camera_id"])).scalar()
    result = screen_clip(store.blobs.get(clip["sha256"]), placement or "unknown")
    with store.begin() as conn:
        _set_controls(
            conn,
            clip_id,
            screened_at=at,
            screen_flagged=result.flagged,
            screen_score=result.score,
            screen_reasons=list(result.reasons),
        )
        log_change(conn, "screen", at, {"clip_id": clip_id, **result.as_dict()})
        verdict = _verdict(conn, clip_id)
    assert verdict is not None
    return verdict


def verdicts(store: Store) -> dict[str, bool]:
    """Every screened clip still held in the store, and whether the screen flagged it."""
    with store.connect() as conn:
        screened = select(_controls.clip_id, _controls.screen_flagged).where(_controls.screened_at.is_not(None))
        rows = conn.execute(screened)
        return {row.clip_id: bool(row.screen_flagged) for row in rows}


def releasable(conn: Connection, clip_id: str) -> bool:
    """Screened, and either not flagged or confirmed by the owner after the warning."""
    verdict = _verdict(conn, clip_id)
    return verdict is not None and (not verdict["flagged"] or verdict["confirmed"])


def confirm(conn: Connection, clip_id: str, at: datetime) -> None:
    _set_controls(conn, clip_id, sensitive_confirmed_at=at)


def stopped_at(store: Store, clip_id: str) -> datetime | None:
    """When the clip was quarantined (a reviewer stopped it as private, or an operator did); None if never."""
    with store.connect() as conn:
        return conn.execute(select(_controls.quarantined_at).where(_controls.clip_id == clip_id)).scalar()


def quarantine(conn: Connection, clip_id: str, at: datetime, reason: str) -> None:
    _set_controls(conn, clip_id, quarantined_at=at, quarantine_reason=reason)


def _set_controls(conn: Connection, clip_id: str, **values: Any) -> None:
    upsert(conn, clip_controls, {"clip_id": clip_id, **values}, key=["clip_id"])


def _verdict(conn: Connection, clip_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(clip_controls).join(clips, clips.c.id == _controls.clip_id).where(_controls.clip_id == clip_id)
    ).first()
    if row is None or row.screened_at is None:
        return None
    return {
        "flagged": bool(row.screen_flagged),
        "score": row.screen_score,
        "reasons": list(row.screen_reasons or []),
        "screened_at": iso_utc(row.screened_at),
        "confirmed": row.sensitive_confirmed_at is not None,
    }
