"""The one enforcement point (DESIGN invariants 1-3): gather the facts, decide, log, answer.

Every read of clip media or metadata for a person, and every processing of a clip for a purpose, comes
here first. `check` commits its decision to the audit log in a transaction of its own before the caller
acts, so a denied request is logged although the caller's work never happens, and no media leaves
before its allowing decision is on record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, bindparam, insert, select

from clipwarden.audit import log as audit
from clipwarden.consent import ledger, records
from clipwarden.consent.notices import NOTICES
from clipwarden.errors import ClipwardenError, NotFound
from clipwarden.policy.decision import (
    COVERED_BY,
    OWNER_ACCESS,
    Action,
    Actor,
    ClipFacts,
    Context,
    Decision,
    Grant,
    Request,
    decide,
    decide_household,
)
from clipwarden.store import Store
from clipwarden.store.schema import access_log, clip_controls, clips, households


class Denied(ClipwardenError):
    """The enforcement point said no; the reason is the message."""


@dataclass(frozen=True)
class Circumstances:
    """What the caller knows of the request beyond the clip: leases and caps (review)."""

    lease_active: bool = False
    views_today: int = 0
    daily_cap: int = 150


@dataclass(frozen=True)
class Ask:
    """One request to the gate: who wants to do what to which clip, for what purpose, and when."""

    actor: Actor
    action: Action
    clip_id: str
    purpose: str
    at: datetime
    circumstances: Circumstances = Circumstances()


def check(store: Store, ask: Ask) -> Decision:
    """Decide and log; the decision is committed whatever it is."""
    with store.begin() as conn:
        return decide_and_log(conn, ask)


def require(store: Store, ask: Ask) -> Decision:
    """`check`, then raise on a denial: NotFound where the clip must not be admitted to exist."""
    decision = check(store, ask)
    if decision.allow:
        return decision
    if decision.reason == "no such clip":
        raise NotFound(f"unknown clip id: {ask.clip_id}")
    raise Denied(f"denied for clip {ask.clip_id}: {decision.reason}")


def require_listing(
    store: Store, actor: Actor, household_id: str | None, at: datetime, action: Literal["list", "erase"] = "list"
) -> Decision:
    """The gate for household-wide requests (listing clips, erasure); logged like every decision."""
    decision = decide_household(actor, household_id, action)
    with store.begin() as conn:
        fields = _decision_fields(actor, action, None, OWNER_ACCESS, decision)
        fields["resource"] = {"type": "household", "id": household_id or "*"}
        audit.append(conn, "decision", at, fields)
    if decision.allow:
        return decision
    if decision.reason == "no such household":
        raise NotFound(f"unknown household id: {household_id}")
    raise Denied(f"denied: {decision.reason}")


def decide_and_log(conn: Connection, ask: Ask) -> Decision:
    """The gate inside a caller's transaction, for callers whose action must commit with its decision."""
    clip, decision = _decide(conn, ask)
    fields = _decision_fields(ask.actor, ask.action, ask.clip_id, ask.purpose, decision)
    fields["resource"]["household_id"] = clip.household_id if clip is not None else None
    index = audit.append(conn, "decision", ask.at, fields)
    if clip is not None and ask.actor.household_id != clip.household_id:
        _record_access(conn, ask, decision, index)
    return decision


def preview(conn: Connection, ask: Ask) -> Decision:
    """What the gate would answer, neither logged nor acted on: for choosing which task to offer a reviewer
    (the reviewer learns nothing from it). Viewing still goes through `require` or `decide_and_log`."""
    return _decide(conn, ask)[1]


def _decide(conn: Connection, ask: Ask) -> tuple[ClipFacts | None, Decision]:
    clip = clip_facts(conn, ask.clip_id)
    actor, at, seen = ask.actor, ask.at, ask.circumstances
    grants: tuple[Grant, ...] = ()
    withdrawn = None
    if clip is not None and actor.role in {"reviewer", "system"}:
        grants, withdrawn = _consents(conn, clip, ask.purpose, at)
    context = Context(
        at=at,
        grants=grants,
        share_withdrawn_at=withdrawn,
        lease_active=seen.lease_active,
        views_today=seen.views_today,
        daily_cap=seen.daily_cap,
    )
    return clip, decide(Request(actor, ask.action, clip, ask.purpose, context))


_INSERT_ACCESS = insert(access_log)

# The clip as the rules see it, in one query; built once, since it runs on every decision.
_CLIP_FACTS = (
    select(
        clips.c.id,
        clips.c.household_id,
        clips.c.status,
        clips.c.expires_at,
        households.c.jurisdiction,
        clip_controls.c.screened_at,
        clip_controls.c.screen_flagged,
        clip_controls.c.sensitive_confirmed_at,
        clip_controls.c.quarantined_at,
    )
    .join(households, households.c.id == clips.c.household_id)
    .outerjoin(clip_controls, clip_controls.c.clip_id == clips.c.id)
    .where(clips.c.id == bindparam("clip_id"))
)


def clip_facts(conn: Connection, clip_id: str) -> ClipFacts | None:
    row = conn.execute(_CLIP_FACTS, {"clip_id": clip_id}).first()
    if row is None:
        return None
    return ClipFacts(
        id=row.id,
        household_id=row.household_id,
        jurisdiction=row.jurisdiction,
        status=row.status,
        expires_at=row.expires_at,
        quarantined=row.quarantined_at is not None,
        screened=row.screened_at is not None,
        flagged=bool(row.screen_flagged),
        owner_confirmed_sensitive=row.sensitive_confirmed_at is not None,
    )


def _consents(
    conn: Connection, clip: ClipFacts, purpose: str, at: datetime
) -> tuple[tuple[Grant, ...], datetime | None]:
    """Consents valid at `at` for any purpose that may serve `purpose` (one query, then pure rules); none
    while the owner's withdrawal of a share of this clip stands, and when it was made."""
    covering = records.covering_clip(conn, clip.id, clip.household_id)
    if (withdrawn := ledger.share_withdrawn_at(covering, clip.id, at)) is not None:
        return (), withdrawn
    grants = []
    for wanted in sorted(COVERED_BY.get(purpose, frozenset({purpose}))):
        for consent, events in covering:
            valid = ledger.valid_for(consent, events, NOTICES, at, wanted)
            if valid is not None:
                grants.append(
                    Grant(valid.consent_id, frozenset({valid.purpose}), frozenset(valid.sites), valid.allow_unredacted)
                )
    return tuple(grants), None


def _decision_fields(
    actor: Actor, action: str, clip_id: str | None, purpose: str, decision: Decision
) -> dict[str, Any]:
    return {
        "actor": {"id": actor.id, "role": actor.role, "site": actor.site, "household_id": actor.household_id},
        "action": action,
        "resource": {"type": "clip", "id": clip_id},
        "purpose": purpose,
        "allow": decision.allow,
        "reason": decision.reason,
        "consent_id": decision.consent_id,
    }


def _record_access(conn: Connection, ask: Ask, decision: Decision, audit_index: int) -> None:
    conn.execute(
        _INSERT_ACCESS,
        {
            "clip_id": ask.clip_id,
            "at": ask.at,
            "actor_pseudonym": ask.actor.shown_as,
            "role": ask.actor.role,
            "site": ask.actor.site,
            "action": ask.action,
            "purpose": ask.purpose,
            "allow": decision.allow,
            "reason": decision.reason,
            "audit_index": audit_index,
        },
    )
