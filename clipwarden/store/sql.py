"""Statements whose SQL differs between SQLite and PostgreSQL, behind one call each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_for(conn: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT with the dialect's ON CONFLICT clauses available."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def upsert(conn: Connection, table: Table, values: Mapping[str, Any], key: Sequence[str]) -> None:
    """Insert ``values``, or update the row with the same ``key`` columns to them."""
    statement = insert_for(conn, table).values(**values)
    changes = {name: value for name, value in values.items() if name not in key}
    conn.execute(statement.on_conflict_do_update(index_elements=list(key), set_=changes))
