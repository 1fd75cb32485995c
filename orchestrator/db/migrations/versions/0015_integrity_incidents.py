"""Integrity incidents: a recorded file the pipeline found altered (size or SHA-256 not those of
``recording.json``) before reading it.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "integrity_incidents",
        sa.Column(
            "session_id", sa.Integer(), sa.ForeignKey("reception_sessions.id"), primary_key=True
        ),  # fmt: skip
        sa.Column("path", sa.String(300), primary_key=True),
        sa.Column("expected_sha256", sa.String(64), nullable=False),
        sa.Column("expected_bytes", sa.Integer(), nullable=False),
        sa.Column("found_sha256", sa.String(64)),
        sa.Column("found_bytes", sa.Integer()),
        sa.Column("archived_as", sa.String(320)),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("integrity_incidents")
