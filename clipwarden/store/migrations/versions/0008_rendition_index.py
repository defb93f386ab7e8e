"""An index on view_sessions.rendition_sha256: every reviewer request looks for ended sessions whose
rendition file is still on disk, and only the few running or unpurged sessions hold a hash.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_view_sessions_rendition_sha256", "view_sessions", ["rendition_sha256"])


def downgrade() -> None:
    op.drop_index("ix_view_sessions_rendition_sha256", table_name="view_sessions")
