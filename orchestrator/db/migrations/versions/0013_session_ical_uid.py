"""The UID of the .ics event a session was imported from, so a re-import of the same file
updates its sessions instead of duplicating them.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reception_sessions") as table:
        table.add_column(sa.Column("ical_uid", sa.String(255)))
    op.create_index(
        "ix_reception_sessions_agency_ical_uid", "reception_sessions", ["agency_id", "ical_uid"]
    )


def downgrade() -> None:
    op.drop_index("ix_reception_sessions_agency_ical_uid", "reception_sessions")
    with op.batch_alter_table("reception_sessions") as table:
        table.drop_column("ical_uid")
