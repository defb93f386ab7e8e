"""Households, cameras, mode changes, clips and deletion certificates.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "households",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("jurisdiction", sa.String(2), nullable=False),
        sa.Column("plan", sa.String(16), nullable=False),
        sa.Column("owner_name", sa.Text, nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("erased_at", _utc()),
        sa.PrimaryKeyConstraint("id", name="pk_households"),
        sa.CheckConstraint("status IN ('active', 'erased')", name="ck_households_status_valid"),
    )
    op.create_table(
        "cameras",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("household_id", sa.String(64), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("placement", sa.String(16), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("fps", sa.Integer, nullable=False),
        sa.Column("motion_masks", sa.JSON, nullable=False),
        sa.Column("privacy_zones", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cameras"),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], name="fk_cameras_household_id_households"),
    )
    op.create_index("ix_cameras_household_id", "cameras", ["household_id"])
    op.create_table(
        "mode_changes",
        sa.Column("household_id", sa.String(64), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("mode", sa.String(4), nullable=False),
        sa.PrimaryKeyConstraint("household_id", "at", name="pk_mode_changes"),
        sa.CheckConstraint("mode IN ('home', 'away')", name="ck_mode_changes_mode_valid"),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], name="fk_mode_changes_household_id_households"),
    )
    op.create_table(
        "clips",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("household_id", sa.String(64), nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("fps", sa.Integer, nullable=False),
        sa.Column("codec", sa.String(16), nullable=False),
        sa.Column("blob_sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.Column("ai_label", sa.String(16)),
        sa.Column("ai_alert", sa.Boolean),
        sa.Column("ai_confidence", sa.Float),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("deleted_at", _utc()),
        sa.PrimaryKeyConstraint("id", name="pk_clips"),
        sa.UniqueConstraint("camera_id", "started_at", name="uq_clips_camera_id_started_at"),
        sa.CheckConstraint("status IN ('stored', 'deleted', 'expired')", name="ck_clips_status_valid"),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], name="fk_clips_household_id_households"),
    )
    op.create_index("ix_clips_household_id", "clips", ["household_id"])
    op.create_index("ix_clips_blob_sha256", "clips", ["blob_sha256"])
    op.create_index("ix_clips_status_expires_at", "clips", ["status", "expires_at"])
    op.create_table(
        "deletion_certificates",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("subject_type", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("issued_at", _utc(), nullable=False),
        sa.Column("document", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deletion_certificates"),
    )
    op.create_index(
        "ix_deletion_certificates_subject_type_subject_id",
        "deletion_certificates",
        ["subject_type", "subject_id"],
    )


def downgrade() -> None:
    for table in ("deletion_certificates", "clips", "mode_changes", "cameras", "households"):
        op.drop_table(table)
