"""Erasure requests (GDPR Art. 17), each to be answered within the month of Art. 12(3).

A request is recorded, and committed, before the erasure starts, so that an accepted request survives a
crash; the erasure closes it in its own transaction with the deletion certificate. A request a crash left
open stays listed, with its deadline, until ``owner.resume_erasures`` finishes it.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, select, update

from clipwarden.audit import log as audit
from clipwarden.errors import Conflict, NotFound
from clipwarden.store import Store
from clipwarden.store.schema import clips, deletion_certificates, erasure_requests, households
from clipwarden.times import iso_utc, one_month_after, require_aware

Subject = Literal["clip", "household"]
_requests = erasure_requests.c


def receive(store: Store, subject_type: Subject, subject_id: str, requested_by: str, at: datetime) -> dict[str, Any]:
    """Record a request to erase the clip or household, once it is known to exist and not be erased yet."""
    require_aware(at, "request time")
    with store.begin() as conn:
        household_id = _erasable(conn, subject_type, subject_id)
        values = {
            "id": f"req_{secrets.token_hex(12)}",
            "subject_type": subject_type,
            "subject_id": subject_id,
            "household_id": household_id,
            "requested_by": requested_by,
            "received_at": at,
            "deadline": one_month_after(at),
            "status": "open",
        }
        conn.execute(erasure_requests.insert().values(values))
        document = request_document(values)
        audit.append(conn, "erasure_request", at, document)
    return document


def open_request(conn: Connection, request_id: str) -> dict[str, Any]:
    """The open request, row-locked until the erasure that answers it commits."""
    row = conn.execute(select(erasure_requests).where(_requests.id == request_id).with_for_update()).first()
    if row is None:
        raise NotFound(f"unknown erasure request: {request_id}")
    if row.status != "open":
        raise Conflict(f"erasure request {request_id} is {row.status}")
    return request_document(row._mapping)


def close(conn: Connection, request_id: str, certificate_id: str, at: datetime) -> None:
    conn.execute(
        update(erasure_requests)
        .where(_requests.id == request_id)
        .values(status="closed", closed_at=at, certificate_id=certificate_id)
    )


def requests(store: Store, household_id: str | None = None, only_open: bool = False) -> list[dict[str, Any]]:
    """Erasure requests, oldest first: one household's or all, open ones only if asked."""
    query = select(erasure_requests).order_by(_requests.received_at, _requests.id)
    if household_id is not None:
        query = query.where(_requests.household_id == household_id)
    if only_open:
        query = query.where(_requests.status == "open")
    with store.connect() as conn:
        return [request_document(row._mapping) for row in conn.execute(query)]


def certificate_for(conn: Connection, subject_type: Subject, subject_id: str) -> str | None:
    """The latest certificate issued for the subject, if it has been erased already."""
    return conn.execute(
        select(deletion_certificates.c.id)
        .where(deletion_certificates.c.subject_type == subject_type, deletion_certificates.c.subject_id == subject_id)
        .order_by(deletion_certificates.c.issued_at.desc())
        .limit(1)
    ).scalar()


def request_document(values: Any) -> dict[str, Any]:
    closed_at: datetime | None = values.get("closed_at")
    return {
        "id": values["id"],
        "subject": {"type": values["subject_type"], "id": values["subject_id"]},
        "household_id": values["household_id"],
        "requested_by": values["requested_by"],
        "received_at": iso_utc(values["received_at"]),
        "deadline": iso_utc(values["deadline"]),
        "status": values["status"],
        "closed_at": iso_utc(closed_at) if closed_at is not None else None,
        "certificate_id": values.get("certificate_id"),
        "within_deadline": None if closed_at is None else closed_at <= values["deadline"],
    }


def _erasable(conn: Connection, subject_type: Subject, subject_id: str) -> str:
    """The subject's household; NotFound if unknown, Conflict if already erased."""
    if subject_type == "clip":
        clip = conn.execute(select(clips.c.household_id, clips.c.status).where(clips.c.id == subject_id)).first()
        if clip is None:
            raise NotFound(f"unknown clip id: {subject_id}")
        if clip.status == "deleted":
            raise Conflict(f"clip {subject_id} is already deleted")
        return str(clip.household_id)
    household = conn.execute(select(households.c.status).where(households.c.id == subject_id)).first()
    if household is None:
        raise NotFound(f"unknown household id: {subject_id}")
    if household.status == "erased":
        raise Conflict(f"household {subject_id} is erased")
    return subject_id
