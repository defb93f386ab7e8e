"""Room models: redaction's samples of a camera's clips of one day, built once and kept for every view of
that day's clips, with the clips they came from (so that they are erased with any of them).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "room_models",
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("camera_id", "day", name="pk_room_models"),
    )


def downgrade() -> None:
    op.drop_table("room_models")
