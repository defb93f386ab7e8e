"""Consent: published notices, consents, and each consent's append-only history of states.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("human_review", sa.Boolean, nullable=False),
        sa.Column("sites", sa.JSON, nullable=False),
        sa.Column("redacted", sa.Boolean, nullable=False),
        sa.Column("retention_days", sa.Integer, nullable=False),
        sa.Column("material", sa.Boolean, nullable=False),
        sa.Column("published_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("purpose", "version", name="pk_notices"),
    )
    op.create_table(
        "consents",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("household_id", sa.String(64), nullable=False),
        sa.Column("clip_id", sa.String(40)),
        sa.Column("purposes", sa.JSON, nullable=False),
        sa.Column("notice_versions", sa.JSON, nullable=False),
        sa.Column("allow_unredacted", sa.Boolean, nullable=False),
        sa.Column("sites", sa.JSON, nullable=False),
        sa.Column("jurisdiction", sa.String(2), nullable=False),
        sa.Column("given_at", _utc(), nullable=False),
        sa.Column("given_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_consents"),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], name="fk_consents_household_id_households"),
        sa.ForeignKeyConstraint(["clip_id"], ["clips.id"], name="fk_consents_clip_id_clips"),
    )
    op.create_index("ix_consents_household_id_clip_id", "consents", ["household_id", "clip_id"])
    op.create_index("ix_consents_clip_id", "consents", ["clip_id"])
    op.create_index("ix_consents_given_at", "consents", ["given_at"])
    op.create_table(
        "consent_events",
        sa.Column("consent_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("notice_versions", sa.JSON),
        sa.Column("sites", sa.JSON),
        sa.PrimaryKeyConstraint("consent_id", "seq", name="pk_consent_events"),
        sa.ForeignKeyConstraint(["consent_id"], ["consents.id"], name="fk_consent_events_consent_id_consents"),
    )


def downgrade() -> None:
    for table in ("consent_events", "consents", "notices"):
        op.drop_table(table)
