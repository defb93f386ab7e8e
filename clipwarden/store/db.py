"""Opening the store: the database URL, the data dir, the engine, and migrations to the latest schema.

SQLite (the default, a file in the data dir) and PostgreSQL (``postgresql+psycopg://``) are supported.
Several processes may open one store at once: SQLite runs in WAL mode with a busy timeout, every writer
takes the write lock when its transaction begins, and opening (the switch to WAL, migrations) is serialised
by a lock file beside the database; PostgreSQL serialises migrations and blob reference changes with
advisory locks.
"""

from __future__ import annotations

import fcntl
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.util import CommandError
from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import ArgumentError, DBAPIError

from clipwarden.errors import ClipwardenError
from clipwarden.store.blobs import BlobStore, FileBlobStore

SQLITE_FILE = "clipwarden.db"
BLOB_DIR = "blobs"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")

_BUSY_TIMEOUT_MS = 30_000
_PG_CONNECT_TIMEOUT_S = 10
# PostgreSQL advisory lock spaces: one migrator at a time; blob holders by hash bucket.
_MIGRATION_LOCK_SPACE = 0x6377_0001
_BLOB_LOCK_SPACE = 0x6377_0002
_WRITE_OPTION = "clipwarden_write"


@dataclass
class Store:
    """The database engine and the blob store of one data dir. Close it (or use ``with``) when done."""

    engine: Engine
    blobs: BlobStore
    data_dir: Path

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A read-write transaction: committed when the block ends, rolled back if it raises."""
        with self.engine.connect() as conn:
            conn.execution_options(**{_WRITE_OPTION: True})
            with conn.begin():
                yield conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reading; whatever it began is rolled back at the end."""
        with self.engine.connect() as conn:
            yield conn

    def lock_blob(self, conn: Connection, sha256: str) -> None:
        """Serialise, until this transaction ends, everyone who stores or releases the blob ``sha256``,
        so that a release never removes bytes that a concurrent ingest has just come to reference.

        PostgreSQL locks one of 256 buckets by the hash's first byte, which bounds the locks a large
        erasure holds; SQLite needs nothing more, since a writer holds the whole database."""
        if conn.dialect.name == "postgresql":
            _advisory_lock(conn, _BLOB_LOCK_SPACE, int(sha256[:2], 16))

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def open_store(data_dir: Path, db_url: str | None = None) -> Store:
    """Open (creating if needed) the store of ``data_dir`` and migrate its database to the latest schema.

    ``db_url`` is a SQLAlchemy URL; None means the SQLite file ``data_dir/clipwarden.db``. Every failure is
    a one-line ``ClipwardenError``, and a data dir this call created is removed again.
    """
    url = database_url(data_dir, db_url)
    created = _prepare_data_dir(data_dir)
    store = Store(_create_engine(url), FileBlobStore(data_dir / BLOB_DIR), data_dir)
    try:
        with _opening_lock(url), store.begin() as conn:
            _migrate(conn)
    except BaseException as error:
        store.close()
        _remove(created)
        if isinstance(error, DBAPIError):
            reason = " ".join(str(error.orig).split())
            raise ClipwardenError(f"cannot open database {_shown(url)}: {reason}") from None
        if isinstance(error, OSError):
            reason = error.strerror or str(error)
            raise ClipwardenError(f"cannot open database {_shown(url)}: {reason}") from None
        if isinstance(error, CommandError):
            raise ClipwardenError(f"cannot migrate database {_shown(url)}: {error}") from None
        raise
    return store


def database_url(data_dir: Path, db_url: str | None) -> URL:
    """The URL to connect to, checked: only SQLite files and PostgreSQL through psycopg are supported."""
    if db_url is None:
        return URL.create("sqlite+pysqlite", database=str(data_dir / SQLITE_FILE))
    try:
        url = make_url(db_url)
    except (ArgumentError, ValueError) as error:
        raise ClipwardenError(f"malformed --db URL: {error}") from None
    backend, _, driver = url.drivername.partition("+")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        if not url.database or url.database == ":memory:":
            raise ClipwardenError(f"malformed --db URL: {_shown(url)} names no database file")
        return url
    if backend == "postgresql" and driver in ("", "psycopg"):
        if not url.database:
            raise ClipwardenError(f"malformed --db URL: {_shown(url)} names no database")
        return url.set(drivername="postgresql+psycopg")
    raise ClipwardenError(
        f"malformed --db URL: unsupported database {url.drivername!r}; "
        "use sqlite:///PATH or postgresql+psycopg://USER@HOST/DATABASE"
    )


def _shown(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _prepare_data_dir(data_dir: Path) -> Path | None:
    """Make sure ``data_dir`` exists and takes new files; return the topmost directory created, if any."""
    absolute = data_dir.absolute()
    missing = [path for path in (absolute, *absolute.parents) if not path.exists()]
    created = missing[-1] if missing else None
    try:
        absolute.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=absolute):
            pass
    except OSError as error:
        _remove(created)
        reason = "it is a file" if absolute.is_file() else error.strerror or str(error)
        raise ClipwardenError(f"data dir {data_dir} is not writable: {reason}") from None
    return created


def _remove(created: Path | None) -> None:
    if created is not None:
        shutil.rmtree(created, ignore_errors=True)


@contextmanager
def _opening_lock(url: URL) -> Iterator[None]:
    """For SQLite, hold an exclusive lock on ``DATABASE.open-lock`` until the store is open and migrated.

    SQLite answers a second process that opens a new file while the first switches it to WAL with
    "database is locked" at once, whatever the busy timeout; the lock file makes the second one wait.
    PostgreSQL needs none: its migrations take an advisory lock."""
    if url.get_backend_name() != "sqlite":
        yield
        return
    with open(f"{url.database}.open-lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _create_engine(url: URL) -> Engine:
    if url.get_backend_name() == "postgresql":
        return create_engine(url, connect_args={"connect_timeout": _PG_CONNECT_TIMEOUT_S}, pool_pre_ping=True)
    engine = create_engine(url)
    event.listen(engine, "connect", _configure_sqlite)
    event.listen(engine, "begin", _begin_sqlite)
    return engine


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Take BEGIN away from the sqlite3 module, which would not put DDL inside transactions.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
    finally:
        cursor.close()


def _begin_sqlite(conn: Connection) -> None:
    # Writers take the write lock up front. A deferred transaction that reads and then writes fails at
    # once (SQLITE_BUSY, no waiting) if another process committed in between.
    immediate = conn.get_execution_options().get(_WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _migrate(conn: Connection) -> None:
    """Upgrade the database on ``conn`` to the latest schema, inside the caller's transaction."""
    if conn.dialect.name == "postgresql":
        _advisory_lock(conn, _MIGRATION_LOCK_SPACE, 0)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = conn
    command.upgrade(config, "head")


def _advisory_lock(conn: Connection, space: int, key: int) -> None:
    """A PostgreSQL advisory lock, held until the transaction ends."""
    conn.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"), {"space": space, "key": key})
