"""Reading a household's row, for every layer that must know the household exists and is not erased
(consents, clips, accounts). Writes stay with the household use cases (``services/households.py``)."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import Connection, Row, select

from clipwarden.errors import Conflict, NotFound
from clipwarden.store.schema import households

# Row locks matter on PostgreSQL only; SQLite writers hold the whole database.
RowLock = Literal["share", "update"] | None


def household(conn: Connection, household_id: str, lock: RowLock = None) -> Row[Any]:
    """The household's row; ``NotFound`` if there is none."""
    row = household_row(conn, household_id, lock)
    if row is None:
        raise NotFound(f"unknown household id: {household_id}")
    return row


def active_household(conn: Connection, household_id: str, lock: RowLock = "share") -> Row[Any]:
    """The household's row, refusing erased ones (``Conflict``). By default the row is share-locked until
    the transaction ends (PostgreSQL), so that an erasure waits for what is being added, or goes first."""
    row = household(conn, household_id, lock)
    if row.status == "erased":
        raise Conflict(f"household {household_id} is erased")
    return row


def household_row(conn: Connection, household_id: str, lock: RowLock) -> Row[Any] | None:
    query = select(households).where(households.c.id == household_id)
    if lock is not None:
        query = query.with_for_update(read=lock == "share")
    return conn.execute(query).first()
