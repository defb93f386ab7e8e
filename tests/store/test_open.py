"""Opening the store: URLs, the data dir, migrations, and what each backend hands back."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import StatementError

from clipwarden.errors import ClipwardenError
from clipwarden.store import Store, open_store
from clipwarden.store.db import MIGRATIONS_DIR, database_url
from clipwarden.store.schema import households, metadata


def test_opening_migrates_to_the_latest_schema_and_it_matches_the_code(
    data_dir: Path, empty_db_url: str | None
) -> None:
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    for _ in range(2):  # a second open finds everything in place
        with open_store(data_dir, empty_db_url) as store, store.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == head
            assert set(inspect(conn).get_table_names()) >= {t.name for t in metadata.sorted_tables}
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_default_database_is_a_sqlite_file_in_wal_mode_with_foreign_keys(data_dir: Path) -> None:
    with open_store(data_dir, None) as store, store.connect() as conn:
        assert conn.dialect.name == "sqlite"
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert (conn.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0) >= 1000
    assert (data_dir / "clipwarden.db").is_file()


@pytest.mark.parametrize("offset", [UTC, timezone(timedelta(hours=5, minutes=30))])
def test_times_come_back_as_the_same_instant_in_utc(store: Store, offset: timezone) -> None:
    written = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=offset)
    with store.begin() as conn:
        conn.execute(households.insert().values(id="h", jurisdiction="EU", plan="free", created_at=written))
    with store.connect() as conn:
        read = conn.execute(select(households.c.created_at)).scalar_one()
    assert read == written
    assert read.tzinfo == UTC


def test_naive_times_are_refused(store: Store) -> None:
    with pytest.raises(StatementError, match="naive datetime"), store.begin() as conn:
        conn.execute(
            households.insert().values(id="h", jurisdiction="EU", plan="free", created_at=datetime(2025, 1, 1))
        )


def test_an_error_inside_a_transaction_undoes_all_of_it(store: Store) -> None:
    now = datetime.now(UTC)
    with pytest.raises(RuntimeError), store.begin() as conn:
        conn.execute(households.insert().values(id="h", jurisdiction="EU", plan="free", created_at=now))
        raise RuntimeError("midway")
    with store.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM households")).scalar() == 0


@pytest.mark.parametrize(
    "url",
    [
        "nonsense://x",
        "postgresql+psycopg://",
        "postgresql+psycopg://postgres@127.0.0.1:5432",
        "postgresql+asyncpg://h/db",
        "mysql://u@h/db",
        "sqlite://",
        "sqlite:///:memory:",
        "not a url",
    ],
)
def test_malformed_urls_are_refused_before_anything_is_created(data_dir: Path, url: str) -> None:
    with pytest.raises(ClipwardenError, match=r"^malformed --db URL: "):
        open_store(data_dir, url)
    assert not data_dir.exists()


def test_postgresql_without_driver_means_psycopg(data_dir: Path) -> None:
    assert database_url(data_dir, "postgresql://u:secret@h/db").drivername == "postgresql+psycopg"


def test_an_unreachable_server_is_one_line_and_leaves_no_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "new" / "data"
    with pytest.raises(
        ClipwardenError, match=r"^cannot open database postgresql\+psycopg://u:\*\*\*@127\.0\.0\.1:1/x"
    ) as raised:
        open_store(data_dir, "postgresql+psycopg://u:secret@127.0.0.1:1/x")
    assert "\n" not in str(raised.value)
    assert "secret" not in str(raised.value)
    assert not (tmp_path / "new").exists()


def test_a_sqlite_file_in_a_missing_directory_is_one_line_and_leaves_no_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "new" / "data"
    with pytest.raises(
        ClipwardenError, match=r"^cannot open database sqlite:///.*/absent/x\.db: No such file"
    ) as raised:
        open_store(data_dir, f"sqlite:///{tmp_path}/absent/x.db")
    assert "\n" not in str(raised.value)
    assert not (tmp_path / "new").exists()
    assert not (tmp_path / "absent").exists()


def _read_only_dir(tmp_path: Path) -> Path:
    parent = tmp_path / "read-only"
    parent.mkdir()
    parent.chmod(0o500)
    if os.access(parent, os.W_OK):
        pytest.skip("this user can write into read-only directories (root)")
    return parent / "data"


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "a-file"
    path.write_text("not a directory")
    return path


@pytest.mark.parametrize(
    "unwritable",
    [
        pytest.param(_file, id="a file"),
        pytest.param(lambda tmp: _file(tmp) / "data", id="under a file"),
        pytest.param(_read_only_dir, id="under a read-only dir"),
        pytest.param(lambda tmp: Path("/proc/clipwarden-data"), id="under /proc"),
    ],
)
def test_an_unwritable_data_dir_is_refused(tmp_path: Path, unwritable: object) -> None:
    data_dir = unwritable(tmp_path)  # type: ignore[operator]
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(ClipwardenError, match=r"^data dir .* is not writable: "):
        open_store(data_dir, None)
    assert sorted(tmp_path.rglob("*")) == before


def test_a_database_from_a_newer_clipwarden_is_refused(data_dir: Path, db_url: str | None) -> None:
    with open_store(data_dir, db_url) as store, store.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(ClipwardenError, match=r"^cannot migrate database .*9999"):
        open_store(data_dir, db_url)
