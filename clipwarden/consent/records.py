"""Storage of notices and consents: rows in, plain data out. Nothing here decides anything.

Every table is append-only: this module inserts and selects, and has no UPDATE or DELETE statement.
A consent and its events are read with one query (consents joined to their events), so that the
enforcement point's lookup is a single indexed round trip.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Select, and_, bindparam, exists, or_, select

from clipwarden.consent.ledger import Consent, ConsentEvent, Terms
from clipwarden.consent.notices import NOTICES, NoticeVersion
from clipwarden.consent.vocabulary import FINAL_STATES
from clipwarden.errors import ClipwardenError
from clipwarden.store.schema import consent_events, consents, notices
from clipwarden.store.sql import insert_for

Recorded = tuple[Consent, list[ConsentEvent]]

_JOINED = select(
    consents,
    consent_events.c.seq,
    consent_events.c.at,
    consent_events.c.state,
    consent_events.c.actor,
    consent_events.c.notice_versions.label("renewed_versions"),
    consent_events.c.sites.label("renewed_sites"),
).join(consent_events, consent_events.c.consent_id == consents.c.id)


def publish_notices(conn: Connection, history: Iterable[NoticeVersion] = NOTICES) -> None:
    """Make the ``notices`` table hold ``history``: add versions not yet published, and refuse (changing
    nothing) a version whose published text or terms differ, since a consent may point at it."""
    published = {(row.purpose, row.version): row for row in conn.execute(select(notices))}
    for notice in history:
        values = _notice_values(notice)
        row = published.get((notice.purpose, notice.version))
        if row is None:
            conn.execute(insert_for(conn, notices).values(**values).on_conflict_do_nothing())
        elif {name: row._mapping[name] for name in values} != values:
            raise ClipwardenError(
                f"notice {notice.purpose} v{notice.version} differs from the version published on "
                f"{notice.published_at.date()}; publish the change as a new version"
            )


def insert_consent(conn: Connection, consent: Consent, given: ConsentEvent) -> None:
    conn.execute(
        consents.insert().values(
            id=consent.id,
            household_id=consent.household_id,
            clip_id=consent.clip_id,
            purposes=list(consent.purposes),
            notice_versions=dict(consent.terms.notice_versions),
            allow_unredacted=consent.allow_unredacted,
            sites=list(consent.terms.sites),
            jurisdiction=consent.jurisdiction,
            given_at=consent.given_at,
            given_by=consent.given_by,
        )
    )
    append_event(conn, consent.id, given)


def append_event(conn: Connection, consent_id: str, event: ConsentEvent) -> None:
    """Add ``event`` to the consent's history; the (consent, seq) key refuses a second event at a seq."""
    conn.execute(
        consent_events.insert().values(
            consent_id=consent_id,
            seq=event.seq,
            at=event.at,
            state=event.state,
            actor=event.actor,
            notice_versions=None if event.terms is None else dict(event.terms.notice_versions),
            sites=None if event.terms is None else list(event.terms.sites),
        )
    )


def load(conn: Connection, consent_id: str, lock: bool = False) -> Recorded | None:
    """The consent and its history; with ``lock``, the consent row is locked until the transaction ends
    (PostgreSQL), so that concurrent changes to one consent queue up."""
    query = _JOINED.where(consents.c.id == consent_id)
    found = _read(conn, query.with_for_update(of=consents) if lock else query)
    return found[0] if found else None


def for_household(conn: Connection, household_id: str) -> list[Recorded]:
    """The household's consents, oldest first."""
    return _read(conn, _JOINED.where(consents.c.household_id == household_id))


# The consents that may cover a clip: an OR of two index lookups (clip_id; household_id with clip_id
# NULL), which both backends answer index by index. Built once: it sits on the gate's latency path.
_COVERING_CLIP = _JOINED.where(
    or_(
        consents.c.clip_id == bindparam("clip_id"),
        and_(consents.c.household_id == bindparam("household_id"), consents.c.clip_id.is_(None)),
    )
)


def covering_clip(conn: Connection, clip_id: str, household_id: str) -> list[Recorded]:
    """The consents that may cover the clip: its own and its household's account-wide ones; the
    household check on the clip's own consents follows here."""
    found = _read(conn, _COVERING_CLIP, {"clip_id": clip_id, "household_id": household_id})
    return [(consent, events) for consent, events in found if consent.household_id == household_id]


def standing_given_before(conn: Connection, before: datetime) -> list[Recorded]:
    """Consents given at or before ``before`` that have reached no final state, locked for update."""
    return standing(conn, consents.c.given_at <= before)


def standing_for_household(conn: Connection, household_id: str) -> list[Recorded]:
    """The household's consents that have reached no final state, locked for update."""
    return standing(conn, consents.c.household_id == household_id)


def standing_for_clip(conn: Connection, clip_id: str) -> list[Recorded]:
    """The clip's own consents (not account-wide ones) that have reached no final state, locked for update."""
    return standing(conn, consents.c.clip_id == clip_id)


def standing(conn: Connection, *criteria: ColumnElement[bool]) -> list[Recorded]:
    final = consent_events.alias("final")
    ended = exists().where(final.c.consent_id == consents.c.id, final.c.state.in_(FINAL_STATES))
    return _read(conn, _JOINED.where(*criteria, ~ended).with_for_update(of=consents))


def _read(conn: Connection, query: Select[Any], parameters: dict[str, Any] | None = None) -> list[Recorded]:
    found: dict[str, Recorded] = {}
    rows = conn.execute(query.order_by(consents.c.given_at, consents.c.id, consent_events.c.seq), parameters)
    for row in rows:
        if row.id not in found:
            found[row.id] = (_consent(row), [])
        found[row.id][1].append(_event(row))
    return list(found.values())


def _consent(row: Row[Any]) -> Consent:
    return Consent(
        id=row.id,
        household_id=row.household_id,
        clip_id=row.clip_id,
        purposes=tuple(row.purposes),
        terms=Terms(dict(row.notice_versions), tuple(row.sites)),
        allow_unredacted=row.allow_unredacted,
        jurisdiction=row.jurisdiction,
        given_at=row.given_at,
        given_by=row.given_by,
    )


def _event(row: Row[Any]) -> ConsentEvent:
    renewed = None
    if row.renewed_versions is not None:
        renewed = Terms(dict(row.renewed_versions), tuple(row.renewed_sites))
    return ConsentEvent(seq=row.seq, at=row.at, state=row.state, actor=row.actor, terms=renewed)


def _notice_values(notice: NoticeVersion) -> dict[str, Any]:
    return {
        "purpose": notice.purpose,
        "version": notice.version,
        "sha256": notice.sha256,
        "text": notice.text,
        "human_review": notice.human_review,
        "sites": list(notice.sites),
        "redacted": notice.redacted,
        "retention_days": notice.retention_days,
        "material": notice.material,
        "published_at": notice.published_at,
    }
