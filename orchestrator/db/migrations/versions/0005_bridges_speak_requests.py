"""Bridges between a hub room and session rooms, and central observers' requests to speak.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _now() -> sa.TextClause:
    return sa.text("(CURRENT_TIMESTAMP)")


def upgrade() -> None:
    op.create_table(
        "bridges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("hub_room", sa.String(length=100), nullable=False),
        sa.Column("hub_name", sa.String(length=200), nullable=False),
        sa.Column("session_name", sa.String(length=200), nullable=False),
        sa.Column("video", sa.Boolean(), nullable=False),
        sa.Column("talk_back", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=200), nullable=True),
        sa.Column("agent_id", sa.String(length=100), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("running_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["reception_sessions.id"],
            name=op.f("fk_bridges_session_id_reception_sessions"),
        ),  # fmt: skip
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_bridges_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridges")),
    )
    with op.batch_alter_table("bridges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bridges_session_id"), ["session_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bridges_hub_room"), ["hub_room"], unique=False)

    op.create_table(
        "speak_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("identity", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column(
            "requested_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False
        ),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["reception_sessions.id"],
            name=op.f("fk_speak_requests_session_id_reception_sessions"),
        ),  # fmt: skip
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_speak_requests_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_speak_requests_decided_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_speak_requests")),
    )
    with op.batch_alter_table("speak_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_speak_requests_session_id"), ["session_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("speak_requests")
    op.drop_table("bridges")
