"""Consent use cases: give, renew, withdraw, expire, and read. Each runs in one transaction.

Every state change calls ``on_change(conn, kind, fields)`` inside that transaction (``kind`` is the new
DPV state), so that a caller can append an audit entry that commits or rolls back with the change.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from clipwarden.consent import ledger, records
from clipwarden.consent.ledger import Consent, ConsentEvent, Terms, ValidConsent
from clipwarden.consent.notices import NOTICES
from clipwarden.consent.vocabulary import FINAL_STATES, VALID_STATES, ConsentState
from clipwarden.errors import Conflict, NotFound
from clipwarden.store import Store
from clipwarden.store.households import active_household, household
from clipwarden.store.schema import clips
from clipwarden.times import iso_utc, require_aware

OnChange = Callable[[Connection, str, dict[str, Any]], None]
Versions = Mapping[str, int] | int | None

_SHORTEST_RETENTION = timedelta(days=min(notice.retention_days for notice in NOTICES))


def give_consent(
    store: Store,
    household_id: str,
    clip_id: str | None,
    purposes: Iterable[str],
    notice_versions: Versions,
    allow_unredacted: bool,
    sites: Iterable[str] | None,
    at: datetime,
    actor: str,
    on_change: OnChange | None = None,
) -> dict[str, Any]:
    """Record the owner's consent to ``purposes`` for one clip (or, for the tester program, the whole
    account), to the notice versions in force at ``at``. ``notice_versions`` names the version(s) the
    owner was shown: one number, or one per purpose; None for those in force. ``sites`` None means the
    default for the household's jurisdiction. Returns the consent document."""
    require_aware(at, "consent time")
    asked = ledger.check_purposes(purposes, clip_id)
    agreed = ledger.agreed_notices(asked, notice_versions, NOTICES, at)
    with store.begin() as conn:
        jurisdiction = active_household(conn, household_id).jurisdiction
        if clip_id is not None:
            _shareable_clip(conn, clip_id, household_id)
        records.publish_notices(conn)
        consent = Consent(
            id=str(uuid.uuid4()),
            household_id=household_id,
            clip_id=clip_id,
            purposes=asked,
            terms=Terms(
                {purpose: notice.version for purpose, notice in agreed.items()},
                ledger.choose_sites(jurisdiction, agreed, sites),
            ),
            allow_unredacted=allow_unredacted,
            jurisdiction=jurisdiction,
            given_at=at,
            given_by=actor,
        )
        given = ConsentEvent(0, at, "ConsentGiven", actor)
        records.insert_consent(conn, consent, given)
        _announce(on_change, conn, consent, [given])
        return consent_document(consent, [given], at)


def renew(
    store: Store,
    consent_id: str,
    household_id: str,
    at: datetime,
    actor: str,
    notice_versions: Versions = None,
    sites: Iterable[str] | None = None,
    on_change: OnChange | None = None,
) -> dict[str, Any]:
    """The owner agrees again, to the notice versions in force at ``at`` (which lifts a lapse caused by a
    material change). Sites as for ``give_consent``. A consent that has ended cannot be renewed."""
    require_aware(at, "renewal time")
    with store.begin() as conn:
        consent, events = _owned(conn, consent_id, household_id)
        state = _current_state(consent, events, at)
        if state not in VALID_STATES:
            raise Conflict(f"consent {consent_id} has ended ({state}); give a new consent instead")
        agreed = ledger.agreed_notices(consent.purposes, notice_versions, NOTICES, at)
        terms = Terms(
            {purpose: notice.version for purpose, notice in agreed.items()},
            ledger.choose_sites(consent.jurisdiction, agreed, sites),
        )
        records.publish_notices(conn)
        return _record(conn, consent, events, at, "RenewedConsentGiven", actor, on_change, terms=terms)


def withdraw(
    store: Store,
    consent_id: str,
    household_id: str,
    at: datetime,
    actor: str,
    on_change: OnChange | None = None,
) -> dict[str, Any]:
    """Withdraw the consent, from ``at`` on (GDPR Art. 7(3)). A consent of another household is
    ``NotFound``, as if it did not exist; one that has already ended is a ``Conflict``."""
    require_aware(at, "withdrawal time")
    with store.begin() as conn:
        consent, events = _owned(conn, consent_id, household_id)
        state = _current_state(consent, events, at)
        if state in FINAL_STATES:
            raise Conflict(f"consent {consent_id} has already ended ({state})")
        return _record(conn, consent, events, at, "ConsentWithdrawn", actor, on_change)


def expire_due(store: Store, at: datetime, on_change: OnChange | None = None) -> list[str]:
    """Record ConsentExpired for every standing consent whose shared copy has outlived its retention
    by ``at``; return their ids."""
    require_aware(at, "expiry time")
    expired = []
    with store.begin() as conn:
        for consent, events in records.standing_given_before(conn, at - _SHORTEST_RETENTION):
            # A consent changed after ``at`` is left alone: its history only grows forward.
            if events[-1].at <= at and ledger.retention_over(consent, events, NOTICES, at):
                _record(conn, consent, events, at, "ConsentExpired", "retention", on_change)
                expired.append(consent.id)
    return expired


def revoke_for_erasure(
    conn: Connection, household_id: str | None, clip_id: str | None, at: datetime, on_change: OnChange | None = None
) -> list[str]:
    """End, as ``ConsentRevoked``, the standing consents an erasure takes the ground from: all of the
    household's, or the clip's own. Runs in the erasure's transaction; returns their ids."""
    require_aware(at, "erasure time")
    if household_id is not None:
        standing = records.standing_for_household(conn, household_id)
    elif clip_id is not None:
        standing = records.standing_for_clip(conn, clip_id)
    else:
        raise ValueError("name the household or the clip whose consents end")
    for consent, events in standing:
        # A change recorded after ``at`` cannot be followed by this one; it still ends now.
        _record(conn, consent, events, max(at, events[-1].at), "ConsentRevoked", "erasure", on_change)
    return [consent.id for consent, _ in standing]


def consents_for_household(store: Store, household_id: str, at: datetime) -> list[dict[str, Any]]:
    """The household's consents, oldest first, as they stand at ``at``."""
    with store.connect() as conn:
        household(conn, household_id)
        return [consent_document(consent, events, at) for consent, events in records.for_household(conn, household_id)]


def get_consent(store: Store, consent_id: str, household_id: str, at: datetime) -> dict[str, Any]:
    """One of the household's consents as it stands at ``at``."""
    with store.connect() as conn:
        consent, events = _owned(conn, consent_id, household_id)
    return consent_document(consent, events, at)


def valid_consents_for_clip(
    conn: Connection, clip_id: str, household_id: str, purpose: str, at: datetime
) -> list[ValidConsent]:
    """The consents that permit ``purpose`` for the clip at ``at``: the clip's own, and the household's
    account-wide ones (the tester program, for purpose ``tester_program``); none while the owner's
    withdrawal of a share of the clip stands. One indexed query, then the pure rules; runs in the caller's
    transaction."""
    covering = records.covering_clip(conn, clip_id, household_id)
    if ledger.share_withdrawn_at(covering, clip_id, at) is not None:
        return []
    found = (ledger.valid_for(c, events, NOTICES, at, purpose) for c, events in covering)
    return [valid for valid in found if valid is not None]


def consent_document(consent: Consent, events: list[ConsentEvent], at: datetime) -> dict[str, Any]:
    """A consent as the surfaces show it at ``at``: the terms in effect, the state, and whether each
    purpose is permitted (with the reason), then the full history."""
    terms = ledger.terms_at(consent, events, at)
    verdicts = {purpose: ledger.is_valid(consent, events, NOTICES, at, purpose) for purpose in consent.purposes}
    return {
        "id": consent.id,
        "household_id": consent.household_id,
        "clip_id": consent.clip_id,
        "purposes": list(consent.purposes),
        "notice_versions": dict(terms.notice_versions),
        "allow_unredacted": consent.allow_unredacted,
        "sites": list(terms.sites),
        "jurisdiction": consent.jurisdiction,
        "given_at": iso_utc(consent.given_at),
        "given_by": consent.given_by,
        "state": ledger.state_at(events, at),
        "valid": {purpose: {"valid": ok, "reason": reason} for purpose, (ok, reason) in verdicts.items()},
        "events": [_event_document(consent, event) for event in events],
    }


def _event_document(consent: Consent, event: ConsentEvent) -> dict[str, Any]:
    document: dict[str, Any] = {"seq": event.seq, "at": iso_utc(event.at), "state": event.state, "actor": event.actor}
    terms = consent.terms if event.state == "ConsentGiven" else event.terms
    if terms is not None:
        document |= {"notice_versions": dict(terms.notice_versions), "sites": list(terms.sites)}
    return document


def _owned(conn: Connection, consent_id: str, household_id: str) -> records.Recorded:
    """The household's consent, row-locked; another household's is reported as unknown."""
    found = records.load(conn, consent_id, lock=True)
    if found is None or found[0].household_id != household_id:
        raise NotFound(f"unknown consent id: {consent_id}")
    return found


def _current_state(consent: Consent, events: list[ConsentEvent], at: datetime) -> ConsentState | None:
    """The state at ``at``, which must not precede the last recorded change: history only grows forward."""
    if at < events[-1].at:
        raise Conflict(f"consent {consent.id} changed at {iso_utc(events[-1].at)}, after {iso_utc(at)}")
    return ledger.state_at(events, at)


def _record(
    conn: Connection,
    consent: Consent,
    events: list[ConsentEvent],
    at: datetime,
    state: ConsentState,
    actor: str,
    on_change: OnChange | None,
    terms: Terms | None = None,
) -> dict[str, Any]:
    """Append the consent's next event, announce it, and return the consent as it now stands."""
    event = ConsentEvent(len(events), at, state, actor, terms)
    records.append_event(conn, consent.id, event)
    history = [*events, event]
    _announce(on_change, conn, consent, history)
    return consent_document(consent, history, event.at)


def _announce(on_change: OnChange | None, conn: Connection, consent: Consent, history: list[ConsentEvent]) -> None:
    """Tell ``on_change`` about the last event of ``history``, with the terms in effect after it."""
    if on_change is None:
        return
    event = history[-1]
    terms = ledger.terms_at(consent, history, event.at)
    on_change(
        conn,
        event.state,
        {
            "consent_id": consent.id,
            "household_id": consent.household_id,
            "clip_id": consent.clip_id,
            "purposes": list(consent.purposes),
            "notice_versions": dict(terms.notice_versions),
            "sites": list(terms.sites),
            "seq": event.seq,
            "state": event.state,
            "at": iso_utc(event.at),
            "actor": event.actor,
        },
    )


def _shareable_clip(conn: Connection, clip_id: str, household_id: str) -> None:
    """The clip must be the household's and still stored. Share-locked (PostgreSQL), so that a deletion
    either waits for this consent or goes first and is seen."""
    row = conn.execute(
        select(clips.c.household_id, clips.c.status).where(clips.c.id == clip_id).with_for_update(read=True)
    ).first()
    if row is None or row.household_id != household_id:
        raise NotFound(f"unknown clip id: {clip_id}")
    if row.status != "stored":
        raise Conflict(f"clip {clip_id} is {row.status}; it can no longer be shared")
