"""The benchmarks' shared helper (import it as ``from scratch_db import ...`` from a script beside it): a
scratch PostgreSQL database for a benchmark run, made on the server a --db URL names and dropped at the end,
and the rows of the fleet the benchmarks load into it."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from sqlalchemy import URL, Connection, Table, func, make_url, select, text

from clipwarden.store import Store
from clipwarden.store.schema import clips


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


# The fleet both benchmarks load in bulk (SQLAlchemy Core executemany, no media: nothing reads a blob):
# households of one camera each, their clips, screen results and consents, as table rows.

SETUP = datetime(2025, 9, 2, tzinfo=UTC)  # households created; clips recorded from here on
CONSENTS_GIVEN = datetime(2025, 9, 15, tzinfo=UTC)
CLIPS_PER_HOUSEHOLD = 10
# The notice version in force at CONSENTS_GIVEN per purpose (human review's v2 since 2025-09-01: v1 lapsed).
NOTICE_VERSIONS = {"human_review_for_model_improvement": 2, "tester_program": 1}
INSERT_CHUNK = 10_000


def insert_rows(conn: Connection, table: Table, rows: Iterable[dict[str, Any]]) -> None:
    """Insert ``rows`` INSERT_CHUNK at a time, without holding more than one chunk."""
    remaining = iter(rows)
    while chunk := list(islice(remaining, INSERT_CHUNK)):
        conn.execute(table.insert(), chunk)


def household_row(hh: str, jurisdiction: str) -> dict[str, Any]:
    return {
        "id": hh,
        "jurisdiction": jurisdiction,
        "plan": "pro",
        "owner_name": f"Owner {hh}",
        "address": f"{hh} Example Street",
        "status": "active",
        "created_at": SETUP,
        "erased_at": None,
    }


def camera_row(hh: str) -> dict[str, Any]:
    return {
        "id": f"cam_{hh}",
        "household_id": hh,
        "name": "Front door",
        "placement": "entrance",
        "width": 640,
        "height": 360,
        "fps": 10,
        "motion_masks": [],
        "privacy_zones": [],
    }


def clip_row(number: int, clip_id: str, hh: str) -> dict[str, Any]:
    """Clip ``number`` of the fleet, from its household's camera, recorded 90 minutes after the one before."""
    started_at = SETUP + timedelta(minutes=number % CLIPS_PER_HOUSEHOLD * 90, seconds=number % 7)
    return {
        "id": clip_id,
        "household_id": hh,
        "camera_id": f"cam_{hh}",
        "started_at": started_at,
        "duration_s": 25.0,
        "width": 640,
        "height": 360,
        "fps": 10,
        "codec": "h264",
        "blob_sha256": hashlib.sha256(clip_id.encode()).hexdigest(),  # fake: no media is ever read
        "size_bytes": 400_000,
        "status": "stored",
        "expires_at": started_at + timedelta(days=60),
        "ai_label": "pet",
        "ai_alert": False,
        "ai_confidence": 0.5,
        "created_at": started_at + timedelta(seconds=30),
        "deleted_at": None,
    }


def controls_row(clip_id: str) -> dict[str, Any]:
    """Screened at CONSENTS_GIVEN and not flagged."""
    return {
        "clip_id": clip_id,
        "screened_at": CONSENTS_GIVEN,
        "screen_flagged": False,
        "screen_score": 0.1,
        "screen_reasons": [],
        "sensitive_confirmed_at": None,
        "quarantined_at": None,
        "quarantine_reason": None,
    }


def consent_row(
    consent_id: str,
    hh: str,
    clip_id: str | None,
    purpose: str,
    jurisdiction: str,
    sites: list[str],
    given_at: datetime,
) -> dict[str, Any]:
    """A consent of the household's owner to ``purpose`` for one clip (or, with no clip, the whole account)."""
    return {
        "id": consent_id,
        "household_id": hh,
        "clip_id": clip_id,
        "purposes": [purpose],
        "notice_versions": {purpose: NOTICE_VERSIONS[purpose]},
        "allow_unredacted": False,
        "sites": sites,
        "jurisdiction": jurisdiction,
        "given_at": given_at,
        "given_by": f"owner-{hh}",
    }


def event_row(consent_id: str, hh: str, seq: int, at: datetime, state: str) -> dict[str, Any]:
    """A consent's state change (ConsentGiven, ConsentWithdrawn) by the household's owner."""
    return {
        "consent_id": consent_id,
        "seq": seq,
        "at": at,
        "state": state,
        "actor": f"owner-{hh}",
        "notice_versions": None,
        "sites": None,
    }


def require_no_clips(store: Store) -> None:
    """Stop unless the store is empty of clips, which the fleet's rows would collide with."""
    with store.connect() as conn:
        if conn.execute(select(func.count()).select_from(clips)).scalar_one():
            raise SystemExit("the database already holds clips: give --db a server, or an empty SQLite file")


def vacuum_analyze(store: Store) -> None:
    """On PostgreSQL, what autovacuum would have done by the time a store is this big; timed."""
    if store.engine.dialect.name != "postgresql":
        return
    start = time.perf_counter()
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    print(f"    VACUUM ANALYZE: {time.perf_counter() - start:.1f} s")
