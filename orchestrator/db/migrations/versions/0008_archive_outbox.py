"""The archive outbox: sessions waiting to be archived, with attempts and backoff.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "archive_outbox",
        sa.Column(
            "session_id", sa.Integer(), sa.ForeignKey("reception_sessions.id"), primary_key=True
        ),  # fmt: skip
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text()),
        sa.Column("manifest_key", sa.String(300)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_archive_outbox_state_next", "archive_outbox", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_archive_outbox_state_next", "archive_outbox")
    op.drop_table("archive_outbox")
