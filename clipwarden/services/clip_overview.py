"""The owner's clip list at a glance: each stored clip with what an owner wants to know without opening it
(shared, held by the screen, stopped by a reviewer, watched by others and how often, time left before it
goes), filtered by camera, label, shared or watched, a page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from clipwarden.domain import LABELS
from clipwarden.errors import ClipwardenError
from clipwarden.policy.decision import Actor
from clipwarden.services import owner
from clipwarden.store import Store
from clipwarden.store.schema import cameras, clip_controls, review_leases, view_sessions
from clipwarden.times import parse_instant

CLIPS_PER_PAGE = 25
YES_NO = ("yes", "no")


@dataclass(frozen=True)
class ClipFilter:
    """None: any. ``shared`` and ``watched`` are "yes" or "no"."""

    camera: str | None = None
    label: str | None = None
    shared: str | None = None
    watched: str | None = None


def overview(
    store: Store, actor: Actor, at: datetime, wanted: ClipFilter, cursor: int = 0, limit: int = CLIPS_PER_PAGE
) -> dict[str, Any]:
    """A page of the household's stored clips, newest first, each with its marks; the cameras to filter by
    (id and name); ``next``: the cursor of the next page, None on the last. Bad filter values are refused."""
    clips = owner.list_clips(store, actor, at)
    names = camera_names(store, {clip["camera_id"] for clip in clips})
    _check(wanted, names, cursor, limit)
    shared = {
        consent["clip_id"]
        for consent in owner.consents(store, actor, at)
        if consent["clip_id"] is not None and any(verdict["valid"] for verdict in consent["valid"].values())
    }
    marks = _marks(store, [clip["id"] for clip in clips])
    rows = []
    for clip in reversed(clips):  # newest first
        mark = marks.get(clip["id"], {})
        row = clip | {
            "camera_name": names.get(clip["camera_id"], clip["camera_id"]),
            "shared": clip["id"] in shared,
            "held": mark.get("held", False),
            "stopped": mark.get("stopped", False),
            "watched": mark.get("watched", 0),
            "hours_left": max(0.0, (parse_instant(clip["expires_at"]) - at).total_seconds() / 3600),
        }
        if _matches(row, wanted):
            rows.append(row)
    page = rows[cursor : cursor + limit]
    return {
        "clips": page,
        "total": len(rows),
        "next": cursor + limit if cursor + limit < len(rows) else None,
        "cameras": sorted(names.items(), key=lambda item: item[1]),
    }


def _check(wanted: ClipFilter, names: dict[str, str], cursor: int, limit: int) -> None:
    if wanted.camera is not None and wanted.camera not in names:
        raise ClipwardenError(f"camera {wanted.camera!r} is not one of your cameras")
    if wanted.label is not None and wanted.label not in LABELS:
        raise ClipwardenError(f"label {wanted.label!r} is not one of: {', '.join(LABELS)}")
    for name, value in (("shared", wanted.shared), ("watched", wanted.watched)):
        if value is not None and value not in YES_NO:
            raise ClipwardenError(f"{name} must be yes or no, not {value!r}")
    if cursor < 0 or limit < 1:
        raise ClipwardenError("the page asked for does not exist")


def _matches(row: dict[str, Any], wanted: ClipFilter) -> bool:
    return (
        (wanted.camera is None or row["camera_id"] == wanted.camera)
        and (wanted.label is None or row["ai_label"] == wanted.label)
        and (wanted.shared is None or row["shared"] == (wanted.shared == "yes"))
        and (wanted.watched is None or (row["watched"] > 0) == (wanted.watched == "yes"))
    )


def camera_names(store: Store, camera_ids: set[str]) -> dict[str, str]:
    with store.connect() as conn:
        rows = conn.execute(select(cameras.c.id, cameras.c.name).where(cameras.c.id.in_(camera_ids))).all()
    return {row.id: row.name for row in rows}


def _marks(store: Store, clip_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Per clip: held by the screen (flagged, not confirmed), stopped (quarantined), viewing sessions by others."""
    marks: dict[str, dict[str, Any]] = {}
    with store.connect() as conn:
        controls = conn.execute(select(clip_controls).where(clip_controls.c.clip_id.in_(clip_ids))).all()
        watched = conn.execute(
            select(review_leases.c.clip_id, func.count(view_sessions.c.id))
            .join(view_sessions, view_sessions.c.lease_id == review_leases.c.id)
            .where(review_leases.c.clip_id.in_(clip_ids))
            .group_by(review_leases.c.clip_id)
        ).all()
    for row in controls:
        marks[row.clip_id] = {
            "held": bool(row.screen_flagged) and row.sensitive_confirmed_at is None,
            "stopped": row.quarantined_at is not None,
        }
    for clip_id, count in watched:
        marks.setdefault(clip_id, {})["watched"] = int(count)
    return marks
