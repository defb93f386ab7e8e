"""Alembic environment: runs on the connection that ``clipwarden.store.db`` passes in ``config.attributes``.

Migrations run inside the caller's transaction, which already holds the store's migration lock.
"""

from __future__ import annotations

from alembic import context

from clipwarden.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
