"""Accounts get a name to sign in with (unique; an account made before this revision is named by its id) and
the time of their last sign-in to the pages.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("name", sa.String(64), nullable=True))
        batch.add_column(sa.Column("last_sign_in_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE users SET name = id")
    with op.batch_alter_table("users") as batch:
        batch.alter_column("name", existing_type=sa.String(64), nullable=False)
        batch.create_unique_constraint("uq_users_name", ["name"])


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("uq_users_name", type_="unique")
        batch.drop_column("last_sign_in_at")
        batch.drop_column("name")
