"""Fixtures for the whole suite: the database backends, a tiny real MP4, a small seeded fleet, and the
command line run in-process or as a real process.

PostgreSQL tests use the server named by ``CLIPWARDEN_TEST_PG`` (a SQLAlchemy URL; its database part is
ignored), each in a fresh database created for the test and dropped after it. Without a reachable server
they are skipped, except under CI (``CI=true``), where they must run and therefore fail.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import av
import numpy as np
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from sqlalchemy import URL, make_url, update

from clipwarden.cli import main
from clipwarden.domain import AiVerdict, Camera, Household, RecordedClip
from clipwarden.services import ingest_clip, register_camera, register_household
from clipwarden.store import Store, open_store
from clipwarden.store.db import BLOB_DIR
from clipwarden.store.schema import clips

PG_ENV = "CLIPWARDEN_TEST_PG"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
T0 = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
# Past any date the tests act at: the command line's clock is the real one.
KEPT_UNTIL = datetime(2100, 1, 1, tzinfo=UTC)


# Backends


@pytest.fixture(autouse=True)
def _no_clipwarden_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests name their data dir and database; the developer's environment must not leak in."""
    monkeypatch.delenv("CLIPWARDEN_DATA", raising=False)
    monkeypatch.delenv("CLIPWARDEN_DB", raising=False)


@contextmanager
def _maintenance(server: URL) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to the server's maintenance database (CREATE/DROP DATABASE need one)."""
    conninfo = make_conninfo(
        dbname="postgres", host=server.host, port=server.port, user=server.username, password=server.password
    )
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
        yield conn


@pytest.fixture(scope="session")
def pg_server() -> URL:
    url = make_url(os.environ.get(PG_ENV, PG_DEFAULT))
    try:
        with _maintenance(url):
            pass
    except psycopg.Error as error:
        reason = " ".join(str(error).split())
        message = f"PostgreSQL at {url.render_as_string(hide_password=True)} unreachable ({reason}); set {PG_ENV}"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"{message} (CI must run the PostgreSQL tests)")
        pytest.skip(message)
    return url


def _create_database(server: URL, template: str | None = None) -> str:
    """A new database on the server (a copy of ``template`` if given); returns its name."""
    name = f"cw_{uuid.uuid4().hex[:16]}"
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with _maintenance(server) as conn:
        conn.execute(create)
    return name


def _drop_database(server: URL, name: str) -> None:
    """Drop the database even if connections to it linger."""
    with _maintenance(server) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _url(server: URL, name: str) -> str:
    return server.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_template(pg_server: URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated to the latest schema once per session; tests get copies of it, which saves
    each of them the migration."""
    template = _create_database(pg_server)
    try:
        open_store(tmp_path_factory.mktemp("pg-template"), _url(pg_server, template)).close()
        yield template
    finally:
        _drop_database(pg_server, template)


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The --db URL for a test: None (the default SQLite file in the data dir, new with the test's
    tmp_path) or a PostgreSQL database of the test's own, holding the latest schema and no rows."""
    if request.param == "sqlite":
        yield None
        return
    server: URL = request.getfixturevalue("pg_server")
    name = _create_database(server, request.getfixturevalue("pg_template"))
    try:
        yield _url(server, name)
    finally:
        _drop_database(server, name)


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """Like ``db_url``, but a PostgreSQL database without even the schema: for tests of migrating."""
    if request.param == "sqlite":
        yield None
        return
    server: URL = request.getfixturevalue("pg_server")
    name = _create_database(server)
    try:
        yield _url(server, name)
    finally:
        _drop_database(server, name)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def store(data_dir: Path, db_url: str | None) -> Iterator[Store]:
    with open_store(data_dir, db_url) as opened:
        yield opened


# Media and a seeded fleet


@cache
def tiny_mp4(seed: int, frames: int = 4, width: int = 64, height: int = 48, fps: int = 10) -> bytes:
    """A real H.264 MP4 of random frames; the same seed gives the same bytes."""
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for _ in range(frames):
            pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())
    return buffer.getvalue()


@dataclass
class Fleet:
    """Two households on different plans, one camera each, three clips each an hour apart from ``start``.
    Test modules cannot import this conftest, so the helpers they need travel on the fixture."""

    start: ClassVar[datetime] = T0
    person_away: ClassVar[AiVerdict] = AiVerdict(label="intruder", alert=True, confidence=0.9)
    pet: ClassVar[AiVerdict] = AiVerdict(label="pet", alert=False, confidence=0.7)

    free: Household = field(
        default_factory=lambda: Household("hh-free", "EU", "free", "Ada Example", "1 Sample Street")
    )
    plus: Household = field(default_factory=lambda: Household("hh-plus", "US", "plus", "Bo Example", "2 Sample Rd"))
    clip_ids: dict[str, list[str]] = field(default_factory=dict)  # household id -> clip ids, oldest first
    media: dict[str, bytes] = field(default_factory=dict)  # clip id -> MP4 bytes

    @staticmethod
    def recording(camera_id: str, started_at: datetime, seed: int) -> RecordedClip:
        """A clip from ``camera_id`` whose MP4 is ``tiny_mp4(seed)``."""
        return RecordedClip(camera_id, started_at, 0.4, 64, 48, 10, "h264", tiny_mp4(seed))

    @staticmethod
    def files_in_blob_dir(data_dir: Path) -> set[str]:
        """The names of every file under the data dir's blob dir (``ab`` + ``cdef...`` for a blob),
        found by walking it."""
        return {path.parent.name + path.name for path in (data_dir / BLOB_DIR).rglob("*") if path.is_file()}

    def camera_of(self, household: Household) -> Camera:
        return Camera(f"cam-{household.id}", household.id, f"{household.owner_name}'s door", "entrance")

    def sha256(self, clip_id: str) -> str:
        return hashlib.sha256(self.media[clip_id]).hexdigest()

    @property
    def all_clip_ids(self) -> list[str]:
        return [clip_id for ids in self.clip_ids.values() for clip_id in ids]


@pytest.fixture
def fleet_class() -> type[Fleet]:
    """The ``Fleet`` helpers without seeding a store."""
    return Fleet


@pytest.fixture
def fleet(store: Store) -> Fleet:
    seeded = Fleet()
    for number, household in enumerate((seeded.free, seeded.plus)):
        register_household(store, household)
        camera = seeded.camera_of(household)
        register_camera(store, camera)
        seeded.clip_ids[household.id] = []
        for hour in range(3):
            clip = Fleet.recording(camera.id, T0 + timedelta(hours=hour), 10 * number + hour)
            clip_id = ingest_clip(store, clip, Fleet.person_away if hour == 0 else Fleet.pet)
            seeded.clip_ids[household.id].append(clip_id)
            seeded.media[clip_id] = clip.data
    return seeded


@pytest.fixture
def kept_fleet(store: Store, fleet: Fleet) -> Fleet:
    """The fleet, as if on a plan that keeps its clips until 2100: for tests that share, play or export
    them through the command line (whose clock is today's) or months after they were recorded."""
    with store.begin() as conn:
        conn.execute(update(clips).values(expires_at=KEPT_UNTIL))
    return fleet


# The command line


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def cli_raw(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``clipwarden ARGS`` in this process, exactly as given."""

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def cli(cli_raw: Callable[..., CliResult], data_dir: Path, db_url: str | None) -> Callable[..., CliResult]:
    """Run ``clipwarden --data D [--db URL] --json ARGS`` in this process against the test's store;
    ``as_json=False`` for the text form."""

    def run(*args: str, as_json: bool = True) -> CliResult:
        options = [
            "--data",
            str(data_dir),
            *(["--db", db_url] if db_url else []),
            *(["--json"] if as_json else []),
        ]
        return cli_raw(*options, *args)

    return run


@pytest.fixture
def cli_process() -> Callable[..., CliResult]:
    """Run ``python -m clipwarden ARGS`` as a separate process."""

    def run(*args: str) -> CliResult:
        env = {key: value for key, value in os.environ.items() if not key.startswith("CLIPWARDEN_")}
        done = subprocess.run(
            [sys.executable, "-m", "clipwarden", *args], capture_output=True, text=True, env=env, timeout=120
        )
        return CliResult(done.returncode, done.stdout, done.stderr)

    return run
