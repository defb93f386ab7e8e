"""Motion tracks: what the camera measured in each frame of a clip as it recorded it (motion regions, global
changes, brightness and colour), stored with the clip so that training and the fleet read the same thing
without decoding video. Cleared with the media; clips stored before this revision have none and are
decoded instead.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clips") as batch:
        batch.add_column(sa.Column("motion_track", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clips") as batch:
        batch.drop_column("motion_track")
