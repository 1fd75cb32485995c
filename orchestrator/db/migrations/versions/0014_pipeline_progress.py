"""The pipeline's progress mark: the last sign of life of a session's pipeline, from which the
sweeper re-drives a step that made no progress, and how many times it did.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("session_processing") as table:
        table.add_column(sa.Column("progress_at", sa.DateTime(timezone=True)))
        table.add_column(sa.Column("redrives", sa.Integer(), nullable=False, server_default="0"))
        table.create_index("ix_session_processing_progress_at", ["progress_at"])
    # A pipeline in flight when this runs is swept like any other.
    op.execute(
        "UPDATE session_processing SET progress_at = CURRENT_TIMESTAMP "
        "WHERE session_id IN (SELECT id FROM reception_sessions WHERE status = 'processing')"
    )


def downgrade() -> None:
    with op.batch_alter_table("session_processing") as table:
        table.drop_index("ix_session_processing_progress_at")
        table.drop_column("redrives")
        table.drop_column("progress_at")
