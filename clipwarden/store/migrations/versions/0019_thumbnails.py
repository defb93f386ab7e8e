"""Thumbnails: a small JPEG of a keyframe of each clip, made when the clip is stored (its privacy zones are
black in the clip's own pixels), served to the owner through the enforcement point and cleared with the
media. Clips stored before this revision have none.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clips") as batch:
        batch.add_column(sa.Column("thumbnail", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clips") as batch:
        batch.drop_column("thumbnail")
