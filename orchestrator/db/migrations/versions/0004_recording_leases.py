"""Leases of media agents on recordings, and their completion.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recording_requests") as batch_op:
        batch_op.add_column(sa.Column("agent_id", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("manifest_path", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recording_requests") as batch_op:
        for column in ("manifest_path", "completed_at", "lease_expires_at", "agent_id"):
            batch_op.drop_column(column)
