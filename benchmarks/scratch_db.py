"""A scratch PostgreSQL database for a benchmark run, made on the server a --db URL names and dropped at the
end (the benchmarks' shared helper; import it as ``from scratch_db import ...`` from a script beside it)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from sqlalchemy import URL, make_url


@contextmanager
def scratch_database(db_url: str | None, prefix: str) -> Iterator[str | None]:
    """None (SQLite in the data dir), a SQLite URL as given, or the URL of a new database named
    ``PREFIX_<random>`` on a PostgreSQL server, dropped at the end."""
    if db_url is None or make_url(db_url).get_backend_name() != "postgresql":
        yield db_url
        return
    server = make_url(db_url)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with _maintenance(server) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield server.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
    finally:
        with _maintenance(server) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def conninfo(url: URL, database: str | None) -> str:
    """A libpq connection string for ``database`` on the server of ``url``."""
    return make_conninfo(dbname=database, host=url.host, port=url.port, user=url.username, password=url.password)


@contextmanager
def _maintenance(server: URL) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to the server's maintenance database (CREATE/DROP DATABASE need one)."""
    with psycopg.connect(conninfo(server, server.database or "postgres"), autocommit=True, connect_timeout=10) as conn:
        yield conn
