"""When the SFU lost a live session's room: the reconciler recreates it and ends the session
only if nobody rejoins within the grace (``livekit.room_lost_grace_s``).

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
    with op.batch_alter_table("reception_sessions") as batch:
        batch.add_column(sa.Column("room_lost_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reception_sessions") as batch:
        batch.drop_column("room_lost_at")
