"""The pipeline outbox: "enqueue the pipeline for session N", written in the commit that ends the
session, sent after it, acknowledged by the worker, resent by a sweeper until it is.

A session already in ``processing`` with no pipeline job (the crash this table prevents) gets an
unsent row, so the sweeper starts its pipeline.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipeline_outbox",
        sa.Column(
            "session_id", sa.Integer(), sa.ForeignKey("reception_sessions.id"), primary_key=True
        ),  # fmt: skip
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("sends", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("acked_at", sa.DateTime(timezone=True)),
    )
    op.execute(
        "INSERT INTO pipeline_outbox (session_id, created_at, sends) "
        "SELECT s.id, CURRENT_TIMESTAMP, 0 FROM reception_sessions s "
        "WHERE s.status = 'processing' AND NOT EXISTS "
        "(SELECT 1 FROM session_processing p WHERE p.session_id = s.id)"
    )


def downgrade() -> None:
    op.drop_table("pipeline_outbox")
