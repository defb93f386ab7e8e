"""What the system has told a household about its clips: the ``notifications`` rows, for the owner's pages.

Other use cases write them (``services.reviewer.flag_private``: a reviewer stopped a clip as private); this
module only reads them back, for an owner of that household and nobody else. A notification carries no
pixels and no clip metadata beyond the id of one of the owner's own clips, so the check is the one the
enforcement point makes for household listings: the owner's own household only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from clipwarden.policy.decision import Actor, decide_household
from clipwarden.policy.gate import Denied
from clipwarden.store import Store
from clipwarden.store.schema import notifications
from clipwarden.times import iso_utc

_notes = notifications.c
SHOWN_AT_MOST = 50  # the newest; older ones are of no use on a page


def for_owner(store: Store, actor: Actor, clip_id: str | None = None) -> list[dict[str, Any]]:
    """The owner's household's notifications, newest first, optionally only those about ``clip_id``:
    ``{clip_id, kind, text, at}``. Denied for anyone but an owner of a household."""
    household_id = actor.household_id
    if actor.role != "owner" or not decide_household(actor, household_id, "list").allow:
        raise Denied("denied: notifications are shown to the household's owners only")
    query = select(_notes.clip_id, _notes.kind, _notes.text, _notes.at).where(_notes.household_id == household_id)
    if clip_id is not None:
        query = query.where(_notes.clip_id == clip_id)
    query = query.order_by(_notes.at.desc(), _notes.id.desc()).limit(SHOWN_AT_MOST)
    with store.connect() as conn:
        rows = conn.execute(query).all()
    return [{"clip_id": row.clip_id, "kind": row.kind, "text": row.text, "at": iso_utc(row.at)} for row in rows]
