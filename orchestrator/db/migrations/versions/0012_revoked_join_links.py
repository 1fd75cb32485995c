"""Revoked join links: the SHA-256 of each personal link an officer replaced, so the old link is
refused by name ("replaced on ...") rather than as unknown.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revoked_join_links",
        sa.Column("token_sha256", sa.String(length=64), primary_key=True),
        sa.Column(
            "invitation_id", sa.Integer(), sa.ForeignKey("invitations.id"), nullable=False
        ),  # fmt: skip
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("revoked_join_links")
