"""Erasure requests with their GDPR Art. 12(3) deadlines.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "erasure_requests",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("subject_type", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("household_id", sa.String(64), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("received_at", _utc(), nullable=False),
        sa.Column("deadline", _utc(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("closed_at", _utc()),
        sa.Column("certificate_id", sa.String(40)),
        sa.PrimaryKeyConstraint("id", name="pk_erasure_requests"),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name="fk_erasure_requests_household_id_households"
        ),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["deletion_certificates.id"],
            name="fk_erasure_requests_certificate_id_deletion_certificates",
        ),
        sa.CheckConstraint("status IN ('open', 'closed')", name="ck_erasure_requests_status_valid"),
    )
    op.create_index("ix_erasure_requests_household_id", "erasure_requests", ["household_id"])
    op.create_index("ix_erasure_requests_status_deadline", "erasure_requests", ["status", "deadline"])


def downgrade() -> None:
    op.drop_table("erasure_requests")
