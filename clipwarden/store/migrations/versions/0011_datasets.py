"""Dataset snapshots and their items, with lineage to consent.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_snapshots",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("min_confidence", sa.Float(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("excluded", sa.JSON(), nullable=False),
        sa.Column("audit_index", sa.BigInteger(), nullable=False),
        sa.Column("superseded_by", sa.String(40), nullable=True),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("superseded_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dataset_snapshots"),
        sa.UniqueConstraint("sha256", name="uq_dataset_snapshots_sha256"),
    )
    op.create_table(
        "dataset_items",
        sa.Column("snapshot_id", sa.String(40), nullable=False),
        sa.Column("item_id", sa.String(40), nullable=False),
        sa.Column("clip_id", sa.String(40), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["snapshot_id"], ["dataset_snapshots.id"], name="fk_dataset_items_snapshot_id_dataset_snapshots"
        ),
        sa.ForeignKeyConstraint(["clip_id"], ["clips.id"], name="fk_dataset_items_clip_id_clips"),
        sa.PrimaryKeyConstraint("snapshot_id", "item_id", name="pk_dataset_items"),
    )
    op.create_index("ix_dataset_items_clip_id", "dataset_items", ["clip_id"])


def downgrade() -> None:
    op.drop_index("ix_dataset_items_clip_id", table_name="dataset_items")
    op.drop_table("dataset_items")
    op.drop_table("dataset_snapshots")
