"""Migration 0006 (accounts): an existing account survives the upgrade, with no password and its API token
still valid, and the downgrade takes the password column and the sessions table away again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, inspect, text

from clipwarden.store.db import MIGRATIONS_DIR

AT = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
def engine(empty_db_url: str | None, tmp_path: Path) -> Iterator[Engine]:
    made = create_engine(empty_db_url or f"sqlite:///{tmp_path / 'migrate.db'}")
    yield made
    made.dispose()


def _migrate(engine: Engine, direction: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        getattr(command, direction)(config, revision)


def test_an_account_made_before_0006_keeps_its_token_and_has_no_password(engine: Engine) -> None:
    _migrate(engine, "upgrade", "0005")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, role, household_id, site, pseudonym, token_sha256, created_at) "
                "VALUES ('user_old', 'auditor', NULL, NULL, 'auditor-1a2b3c', :token, :at)"
            ),
            {"token": "ab" * 32, "at": AT},
        )
    _migrate(engine, "upgrade", "0006")
    with engine.connect() as conn:
        row = conn.execute(text("SELECT id, token_sha256, password_hash FROM users")).one()
    assert tuple(row) == ("user_old", "ab" * 32, None)
    columns = {column["name"] for column in inspect(engine).get_columns("web_sessions")}
    assert {"id", "user_id", "expires_at", "last_seen_at", "csrf_token", "ended_at"} <= columns

    _migrate(engine, "downgrade", "0005")
    tables = inspect(engine)
    assert "web_sessions" not in tables.get_table_names()
    assert "password_hash" not in {column["name"] for column in tables.get_columns("users")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM users")).scalar_one() == "user_old"
