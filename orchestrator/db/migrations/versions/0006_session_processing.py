"""The post-session pipeline's progress: per session, and per speaker track.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _now() -> sa.TextClause:
    return sa.text("(CURRENT_TIMESTAMP)")


def _session_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["session_id"],
        ["reception_sessions.id"],
        name=op.f(f"fk_{table}_session_id_reception_sessions"),
    )


def upgrade() -> None:
    op.create_table(
        "session_processing",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("steps_done", sa.JSON(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        _session_fk("session_processing"),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_session_processing")),
    )
    op.create_table(
        "processing_tracks",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("track_sid", sa.String(length=100), nullable=False),
        sa.Column("identity", sa.String(length=100), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("audio_s", sa.Float(), nullable=False),
        sa.Column("done_s", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("completions", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        _session_fk("processing_tracks"),
        sa.PrimaryKeyConstraint("session_id", "track_sid", name=op.f("pk_processing_tracks")),
    )


def downgrade() -> None:
    op.drop_table("processing_tracks")
    op.drop_table("session_processing")
