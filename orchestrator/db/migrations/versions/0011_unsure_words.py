"""Where the model was unsure: each indexed utterance keeps the character spans of its
low-probability words (with their probability), so the player can show them dimmed. Rows indexed
before this have none until they are indexed again (``tiepdan sessions reindex``).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (with a default for the rows already there): a batch copy of the table
    # would drop SQLite's FTS5 triggers on it, and copy every row of a large archive.
    op.add_column(
        "transcript_utterances",
        sa.Column("unsure", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    )


def downgrade() -> None:
    op.drop_column("transcript_utterances", "unsure")
