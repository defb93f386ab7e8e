"""Moments and shortcuts shared by the consent tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, func, select

from clipwarden.consent import service
from clipwarden.consent.vocabulary import Purpose
from clipwarden.store import Store

T0 = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)  # the fleet fixture's first clip
AT = T0 + timedelta(hours=1)  # version 1 of every notice is in force
# Version 2 of the human review notice (material: adds in-hyd) is published on 2025-09-01.
BEFORE_V2 = datetime(2025, 8, 20, tzinfo=UTC)
AFTER_V2 = datetime(2025, 9, 2, tzinfo=UTC)
REVIEW: Purpose = "human_review_for_model_improvement"


def count(store: Store, table: Table) -> int:
    with store.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def give(
    store: Store,
    household_id: str,
    clip_id: str | None,
    *purposes: str,
    at: datetime = AT,
    versions: dict[str, int] | int | None = None,
    sites: list[str] | None = None,
    allow_unredacted: bool = False,
) -> dict[str, Any]:
    """The owner of ``household_id`` gives consent, as the share button would."""
    return service.give_consent(
        store, household_id, clip_id, purposes, versions, allow_unredacted, sites, at, f"owner:{household_id}"
    )
