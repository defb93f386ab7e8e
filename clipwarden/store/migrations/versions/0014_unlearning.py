"""Unlearning: which items each model learned (shard and slice), the features cached beside a snapshot's
items, the consent each item rests on, and which model replaced an unlearned one. Models trained before
this revision were pickled single-stage ensembles that cannot be unlearned from a checkpoint: they are
retired (train again).

Revision ID: 0014
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dataset_items") as batch:
        batch.add_column(sa.Column("consent_id", sa.String(40), nullable=True))
        batch.add_column(sa.Column("features", sa.JSON(), nullable=True))
        batch.create_index("ix_dataset_items_consent_id", ["consent_id"])
    items = sa.table(
        "dataset_items",
        sa.column("snapshot_id", sa.String),
        sa.column("item_id", sa.String),
        sa.column("record", sa.JSON),
        sa.column("consent_id", sa.String),
    )
    bind = op.get_bind()
    for row in bind.execute(sa.select(items.c.snapshot_id, items.c.item_id, items.c.record)).all():
        bind.execute(
            items.update()
            .where(items.c.snapshot_id == row.snapshot_id, items.c.item_id == row.item_id)
            .values(consent_id=row.record["consent_id"])
        )
    with op.batch_alter_table("models") as batch:
        batch.add_column(sa.Column("replaced_by", sa.String(40), nullable=True))
        batch.add_column(sa.Column("unlearned_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE models SET status = 'retired'")
    op.create_table(
        "model_items",
        sa.Column("model_id", sa.String(40), nullable=False),
        sa.Column("item_id", sa.String(40), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("slice", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"], name="fk_model_items_model_id_models"),
        sa.PrimaryKeyConstraint("model_id", "item_id", name="pk_model_items"),
    )
    op.create_index("ix_model_items_item_id", "model_items", ["item_id"])


def downgrade() -> None:
    op.drop_index("ix_model_items_item_id", table_name="model_items")
    op.drop_table("model_items")
    with op.batch_alter_table("models") as batch:
        batch.drop_column("unlearned_at")
        batch.drop_column("replaced_by")
    with op.batch_alter_table("dataset_items") as batch:
        batch.drop_index("ix_dataset_items_consent_id")
        batch.drop_column("features")
        batch.drop_column("consent_id")
