"""Household use cases: registering households and cameras, the home/away mode, and erasure."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from clipwarden.domain import (
    JURISDICTIONS,
    PLACEMENTS,
    PLAN_RETENTION_HOURS,
    Camera,
    Household,
    Mode,
    ModeChange,
)
from clipwarden.errors import ClipwardenError, Conflict
from clipwarden.services.erasure import completed, erase
from clipwarden.store import Store
from clipwarden.store.erasure_steps import ErasureScope, plan_clips
from clipwarden.store.households import active_household, household, household_row
from clipwarden.store.schema import cameras, clips, households, mode_changes
from clipwarden.store.sql import upsert
from clipwarden.times import require_aware, utc_now


def register_household(store: Store, household: Household) -> None:
    """Add the household, or update its plan and owner details. An erased household stays erased."""
    _check_household(household)
    with store.begin() as conn:
        known = household_row(conn, household.id, lock="update")
        if known is not None and known.status == "erased":
            raise ClipwardenError(f"household {household.id} was erased; register it under a new id")
        upsert(
            conn,
            households,
            {
                "id": household.id,
                "jurisdiction": household.jurisdiction,
                "plan": household.plan,
                "owner_name": household.owner_name,
                "address": household.address,
                "status": "active",
                "created_at": known.created_at if known is not None else utc_now(),
            },
            key=["id"],
        )


def register_camera(store: Store, camera: Camera) -> None:
    """Add the camera to its (active) household, or update its configuration."""
    if camera.placement not in PLACEMENTS:
        raise ClipwardenError(f"camera {camera.id}: unknown placement {camera.placement!r}")
    with store.begin() as conn:
        active_household(conn, camera.household_id)
        owner = conn.execute(select(cameras.c.household_id).where(cameras.c.id == camera.id)).scalar()
        if owner is not None and owner != camera.household_id:
            raise Conflict(f"camera {camera.id} belongs to household {owner}")
        upsert(
            conn,
            cameras,
            {
                "id": camera.id,
                "household_id": camera.household_id,
                "name": camera.name,
                "placement": camera.placement,
                "width": camera.width,
                "height": camera.height,
                "fps": camera.fps,
                "motion_masks": _zones(camera.motion_masks),
                "privacy_zones": _zones(camera.privacy_zones),
            },
            key=["id"],
        )


def record_mode_changes(store: Store, changes: Iterable[ModeChange]) -> None:
    """Keep the home/away switches the owners' apps reported; a repeated report changes nothing."""
    changes = list(changes)
    for change in changes:
        require_aware(change.at, "mode change time")
        if change.mode not in ("home", "away"):
            raise ClipwardenError(f"unknown mode {change.mode!r}")
    with store.begin() as conn:
        for household_id in sorted({change.household_id for change in changes}):
            active_household(conn, household_id)
        for change in changes:
            upsert(
                conn,
                mode_changes,
                {"household_id": change.household_id, "at": change.at, "mode": change.mode},
                key=["household_id", "at"],
            )


def mode_at(store: Store, household_id: str, at: datetime) -> Mode:
    """The household's mode at ``at``: the latest switch at or before it; "home" before any switch."""
    require_aware(at, "time")
    with store.connect() as conn:
        household(conn, household_id)
        mode = conn.execute(
            select(mode_changes.c.mode)
            .where(mode_changes.c.household_id == household_id, mode_changes.c.at <= at)
            .order_by(mode_changes.c.at.desc())
            .limit(1)
        ).scalar()
    return "away" if mode == "away" else "home"


def erase_household(
    store: Store, household_id: str, at: datetime | None = None, request_id: str | None = None
) -> dict[str, Any]:
    """Erase the household: every clip's media and derived data, its consents, cameras and mode history,
    and the owner's personal details, answering erasure request ``request_id`` if given. Returns the
    deletion certificate."""
    at = at or utc_now()
    with store.begin() as conn:
        active_household(conn, household_id, lock="update")
        planned = plan_clips(conn, clips.c.household_id == household_id, clips.c.status != "deleted")
        scope = ErasureScope("household", household_id, planned, "deleted", at)
        certificate = erase(conn, store, scope, request_id)
    return completed(store, certificate, at)


def _check_household(household: Household) -> None:
    if household.jurisdiction not in JURISDICTIONS:
        raise ClipwardenError(f"household {household.id}: unknown jurisdiction {household.jurisdiction!r}")
    if household.plan not in PLAN_RETENTION_HOURS:
        raise ClipwardenError(f"household {household.id}: unknown plan {household.plan!r}")


def _zones(zones: Iterable[Iterable[tuple[float, float]]]) -> list[list[list[float]]]:
    return [[[x, y] for x, y in zone] for zone in zones]
