"""Personal join links for invited citizens and connection points.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invitations") as batch_op:
        batch_op.add_column(sa.Column("join_token", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint("uq_invitations_join_token", ["join_token"])


def downgrade() -> None:
    with op.batch_alter_table("invitations") as batch_op:
        batch_op.drop_constraint("uq_invitations_join_token", type_="unique")
        batch_op.drop_column("join_token")
