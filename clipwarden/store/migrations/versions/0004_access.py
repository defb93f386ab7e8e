"""Access: accounts, clip controls (screen, quarantine), review tasks, and the owners' access log.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("household_id", sa.String(64)),
        sa.Column("site", sa.String(8)),
        sa.Column("pseudonym", sa.String(40), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], name="fk_users_household_id_households"),
        sa.UniqueConstraint("pseudonym", name="uq_users_pseudonym"),
        sa.UniqueConstraint("token_sha256", name="uq_users_token_sha256"),
        sa.CheckConstraint("role IN ('owner', 'reviewer', 'auditor', 'admin')", name="ck_users_role_valid"),
    )
    op.create_index("ix_users_household_id", "users", ["household_id"])
    op.create_table(
        "clip_controls",
        sa.Column("clip_id", sa.String(40), nullable=False),
        sa.Column("screened_at", _utc()),
        sa.Column("screen_flagged", sa.Boolean),
        sa.Column("screen_score", sa.Float),
        sa.Column("screen_reasons", sa.JSON),
        sa.Column("sensitive_confirmed_at", _utc()),
        sa.Column("quarantined_at", _utc()),
        sa.Column("quarantine_reason", sa.Text),
        sa.PrimaryKeyConstraint("clip_id", name="pk_clip_controls"),
        sa.ForeignKeyConstraint(["clip_id"], ["clips.id"], name="fk_clip_controls_clip_id_clips"),
    )
    op.create_table(
        "review_tasks",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("clip_id", sa.String(40), nullable=False),
        sa.Column("consent_id", sa.String(36), nullable=False),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("closed_at", _utc()),
        sa.Column("closed_reason", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_review_tasks"),
        sa.ForeignKeyConstraint(["clip_id"], ["clips.id"], name="fk_review_tasks_clip_id_clips"),
        sa.ForeignKeyConstraint(["consent_id"], ["consents.id"], name="fk_review_tasks_consent_id_consents"),
        sa.CheckConstraint("status IN ('queued', 'done', 'removed')", name="ck_review_tasks_status_valid"),
    )
    op.create_index("ix_review_tasks_consent_id_status", "review_tasks", ["consent_id", "status"])
    op.create_index("ix_review_tasks_clip_id_status", "review_tasks", ["clip_id", "status"])
    op.create_index("ix_review_tasks_status_created_at", "review_tasks", ["status", "created_at"])
    op.create_table(
        "access_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), autoincrement=True, nullable=False),
        sa.Column("clip_id", sa.String(40), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("actor_pseudonym", sa.String(40), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("site", sa.String(8)),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("allow", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("audit_index", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_access_log"),
    )
    op.create_index("ix_access_log_clip_id", "access_log", ["clip_id"])


def downgrade() -> None:
    op.drop_table("access_log")
    op.drop_table("review_tasks")
    op.drop_table("clip_controls")
    op.drop_table("users")
