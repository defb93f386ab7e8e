"""Trained camera AI models, their deployments, and which model labelled each clip.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("snapshot_id", sa.String(40), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("shards", sa.Integer(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("card", sa.JSON(), nullable=False),
        sa.Column("audit_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["snapshot_id"], ["dataset_snapshots.id"], name="fk_models_snapshot_id_dataset_snapshots"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_models"),
        sa.UniqueConstraint("sha256", name="uq_models_sha256"),
    )
    op.create_index("ix_models_snapshot_id", "models", ["snapshot_id"])
    op.create_table(
        "model_deployments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_id", sa.String(40), nullable=False),
        sa.Column("deployed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("audit_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"], name="fk_model_deployments_model_id_models"),
        sa.PrimaryKeyConstraint("id", name="pk_model_deployments"),
    )
    with op.batch_alter_table("clips") as batch:
        batch.add_column(sa.Column("ai_model_id", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clips") as batch:
        batch.drop_column("ai_model_id")
    op.drop_table("model_deployments")
    op.drop_index("ix_models_snapshot_id", table_name="models")
    op.drop_table("models")
