"""Dataset exports: each export of a snapshot for outside tools, its watermark payload, and the items, clips
and consents it carried (kept after an erasure: the copies are outside the system's reach).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_exports",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("snapshot_id", sa.String(40), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("payload", sa.String(16), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("excluded", sa.JSON(), nullable=False),
        sa.Column("audit_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["snapshot_id"], ["dataset_snapshots.id"], name="fk_dataset_exports_snapshot_id_dataset_snapshots"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_dataset_exports"),
        sa.UniqueConstraint("payload", name="uq_dataset_exports_payload"),
    )
    op.create_index("ix_dataset_exports_snapshot_id", "dataset_exports", ["snapshot_id"])
    op.create_table(
        "dataset_export_items",
        sa.Column("export_id", sa.String(40), nullable=False),
        sa.Column("item_id", sa.String(40), nullable=False),
        sa.Column("clip_id", sa.String(40), nullable=False),
        sa.Column("consent_id", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(
            ["export_id"], ["dataset_exports.id"], name="fk_dataset_export_items_export_id_dataset_exports"
        ),
        sa.ForeignKeyConstraint(["clip_id"], ["clips.id"], name="fk_dataset_export_items_clip_id_clips"),
        sa.PrimaryKeyConstraint("export_id", "item_id", name="pk_dataset_export_items"),
    )
    op.create_index("ix_dataset_export_items_clip_id", "dataset_export_items", ["clip_id"])
    op.create_index("ix_dataset_export_items_consent_id", "dataset_export_items", ["consent_id"])


def downgrade() -> None:
    op.drop_index("ix_dataset_export_items_consent_id", table_name="dataset_export_items")
    op.drop_index("ix_dataset_export_items_clip_id", table_name="dataset_export_items")
    op.drop_table("dataset_export_items")
    op.drop_index("ix_dataset_exports_snapshot_id", table_name="dataset_exports")
    op.drop_table("dataset_exports")
