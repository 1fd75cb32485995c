"""The archive search index: utterances, with SQLite FTS5 or PostgreSQL tsvector + GIN.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# unicode61 without its own diacritic removal: the text arrives already folded (or kept exact)
# by orchestrator.search.folding, the same tokens PostgreSQL gets.
_FTS5 = (
    "CREATE VIRTUAL TABLE transcript_fts USING fts5(text_folded, text_exact, "
    "content='transcript_utterances', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 0')"
)
_FTS5_TRIGGERS = (
    """CREATE TRIGGER transcript_fts_ai AFTER INSERT ON transcript_utterances BEGIN
         INSERT INTO transcript_fts(rowid, text_folded, text_exact)
         VALUES (new.id, new.text_folded, new.text_exact);
       END""",
    """CREATE TRIGGER transcript_fts_ad AFTER DELETE ON transcript_utterances BEGIN
         INSERT INTO transcript_fts(transcript_fts, rowid, text_folded, text_exact)
         VALUES ('delete', old.id, old.text_folded, old.text_exact);
       END""",
    """CREATE TRIGGER transcript_fts_au AFTER UPDATE ON transcript_utterances BEGIN
         INSERT INTO transcript_fts(transcript_fts, rowid, text_folded, text_exact)
         VALUES ('delete', old.id, old.text_folded, old.text_exact);
         INSERT INTO transcript_fts(rowid, text_folded, text_exact)
         VALUES (new.id, new.text_folded, new.text_exact);
       END""",
)


def upgrade() -> None:
    op.create_table(
        "transcript_utterances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("start_s", sa.Float(), nullable=False),
        sa.Column("end_s", sa.Float(), nullable=False),
        sa.Column("speaker_name", sa.String(length=200), nullable=False),
        sa.Column("speaker_folded", sa.String(length=200), nullable=False),
        sa.Column("speaker_role", sa.String(length=32), nullable=False),
        sa.Column("connection_point", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_folded", sa.Text(), nullable=False),
        sa.Column("text_exact", sa.Text(), nullable=False),
        sa.Column("province_code", sa.String(length=32), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("session_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("session_kind", sa.String(length=32), nullable=False),
        sa.Column("case_classification", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["reception_sessions.id"],
            name=op.f("fk_transcript_utterances_session_id_reception_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transcript_utterances")),
        sa.UniqueConstraint("session_id", "seq", name=op.f("uq_transcript_utterances_session_id")),
    )
    op.create_index(
        op.f("ix_transcript_utterances_session_id"), "transcript_utterances", ["session_id"]
    )
    op.create_index(
        "ix_transcript_utterances_province_start",
        "transcript_utterances",
        ["province_code", "session_start"],
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(_FTS5)
        for trigger in _FTS5_TRIGGERS:
            op.execute(trigger)
        return
    # 'simple': no stemming or stop words (none exist for Vietnamese); the tokens are ours.
    for column in ("folded", "exact"):
        op.execute(
            f"ALTER TABLE transcript_utterances ADD COLUMN tsv_{column} tsvector "
            f"GENERATED ALWAYS AS (to_tsvector('simple', text_{column})) STORED"
        )
        op.execute(
            f"CREATE INDEX ix_transcript_utterances_tsv_{column} "
            f"ON transcript_utterances USING gin (tsv_{column})"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE transcript_fts")
    op.drop_table("transcript_utterances")
