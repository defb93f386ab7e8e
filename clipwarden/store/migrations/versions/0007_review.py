"""Review: k answers per task, gold tasks and the adjudication stage; leases, annotations, viewing
sessions (renditions and their watermark payloads), consolidated answers, and owners' notifications.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("review_tasks") as batch:
        batch.add_column(sa.Column("answers_needed", sa.Integer, nullable=False, server_default="2"))
        batch.add_column(sa.Column("gold_label", sa.String(16)))
        batch.add_column(sa.Column("stage", sa.String(12), nullable=False, server_default="annotate"))
        batch.create_check_constraint("stage_valid", "stage IN ('annotate', 'adjudicate')")
    op.create_table(
        "review_leases",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("task_id", sa.String(40), nullable=False),
        sa.Column("clip_id", sa.String(40), nullable=False),
        sa.Column("reviewer_id", sa.String(40), nullable=False),
        sa.Column("site", sa.String(8), nullable=False),
        sa.Column("leased_at", _utc(), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("ended_at", _utc()),
        sa.PrimaryKeyConstraint("id", name="pk_review_leases"),
        sa.ForeignKeyConstraint(["task_id"], ["review_tasks.id"], name="fk_review_leases_task_id_review_tasks"),
        sa.ForeignKeyConstraint(["clip_id"], ["clips.id"], name="fk_review_leases_clip_id_clips"),
        sa.ForeignKeyConstraint(["reviewer_id"], ["users.id"], name="fk_review_leases_reviewer_id_users"),
        sa.CheckConstraint(
            "status IN ('active', 'submitted', 'expired', 'stopped', 'revoked')", name="ck_review_leases_status_valid"
        ),
        sa.UniqueConstraint("clip_id", "reviewer_id", name="uq_review_leases_clip_id_reviewer_id"),
    )
    op.create_index("ix_review_leases_reviewer_id_leased_at", "review_leases", ["reviewer_id", "leased_at"])
    op.create_index("ix_review_leases_task_id_status", "review_leases", ["task_id", "status"])
    op.create_index("ix_review_leases_status_expires_at", "review_leases", ["status", "expires_at"])
    op.create_table(
        "annotations",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("lease_id", sa.String(40), nullable=False),
        sa.Column("task_id", sa.String(40), nullable=False),
        sa.Column("clip_id", sa.String(40), nullable=False),
        sa.Column("reviewer_id", sa.String(40), nullable=False),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("ai_correct", sa.Boolean),
        sa.Column("segments", sa.JSON, nullable=False),
        sa.Column("boxes", sa.JSON, nullable=False),
        sa.Column("gold", sa.Boolean, nullable=False),
        sa.Column("submitted_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_annotations"),
        sa.ForeignKeyConstraint(["lease_id"], ["review_leases.id"], name="fk_annotations_lease_id_review_leases"),
        sa.ForeignKeyConstraint(["task_id"], ["review_tasks.id"], name="fk_annotations_task_id_review_tasks"),
        sa.ForeignKeyConstraint(["clip_id"], ["clips.id"], name="fk_annotations_clip_id_clips"),
        sa.ForeignKeyConstraint(["reviewer_id"], ["users.id"], name="fk_annotations_reviewer_id_users"),
        sa.UniqueConstraint("lease_id", name="uq_annotations_lease_id"),
    )
    op.create_index("ix_annotations_task_id", "annotations", ["task_id"])
    op.create_index("ix_annotations_clip_id", "annotations", ["clip_id"])
    op.create_table(
        "view_sessions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("payload", sa.String(16), nullable=False),
        sa.Column("lease_id", sa.String(40), nullable=False),
        sa.Column("reviewer_id", sa.String(40), nullable=False),
        sa.Column("credential_sha256", sa.String(64), nullable=False),
        sa.Column("redaction", sa.String(12), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.Column("ended_at", _utc()),
        sa.Column("rendition_sha256", sa.String(64)),
        sa.Column("rendition_bytes", sa.BigInteger),
        sa.PrimaryKeyConstraint("id", name="pk_view_sessions"),
        sa.ForeignKeyConstraint(["lease_id"], ["review_leases.id"], name="fk_view_sessions_lease_id_review_leases"),
        sa.ForeignKeyConstraint(["reviewer_id"], ["users.id"], name="fk_view_sessions_reviewer_id_users"),
        sa.UniqueConstraint("payload", name="uq_view_sessions_payload"),
    )
    op.create_index("ix_view_sessions_lease_id", "view_sessions", ["lease_id"])
    op.create_table(
        "consolidations",
        sa.Column("task_id", sa.String(40), nullable=False),
        sa.Column("clip_id", sa.String(40), nullable=False),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("answers", sa.Integer, nullable=False),
        sa.Column("needs_review", sa.Boolean, nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("decided_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("task_id", name="pk_consolidations"),
        sa.ForeignKeyConstraint(["task_id"], ["review_tasks.id"], name="fk_consolidations_task_id_review_tasks"),
        sa.ForeignKeyConstraint(["clip_id"], ["clips.id"], name="fk_consolidations_clip_id_clips"),
    )
    op.create_index("ix_consolidations_clip_id", "consolidations", ["clip_id"])
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), autoincrement=True, nullable=False),
        sa.Column("household_id", sa.String(64), nullable=False),
        sa.Column("clip_id", sa.String(40)),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], name="fk_notifications_household_id_households"),
    )
    op.create_index("ix_notifications_household_id", "notifications", ["household_id"])


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("consolidations")
    op.drop_table("view_sessions")
    op.drop_table("annotations")
    op.drop_table("review_leases")
    with op.batch_alter_table("review_tasks") as batch:
        batch.drop_constraint("ck_review_tasks_stage_valid", type_="check")
        batch.drop_column("stage")
        batch.drop_column("gold_label")
        batch.drop_column("answers_needed")
