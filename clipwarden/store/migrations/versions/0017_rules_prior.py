"""Models start from the rules' verdict (artefact format clipwarden-model/4): each stage is fitted to what the
rules' prior and the stages before it leave unexplained. Artefacts of the earlier formats held cumulative
boosters without that prior and are not read any more: their models are retired, and the fleet goes back to
the rules until a model is trained again.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE models SET status = 'retired' WHERE status <> 'unlearned'")


def downgrade() -> None:
    """The retired artefacts are still on disk; a downgrade leaves them retired (their format is not read)."""
