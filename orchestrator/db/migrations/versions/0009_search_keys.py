"""Search keys: every utterance gets a key ordered by session start that carries its province
(``orchestrator.search.keys``), and its session's restricted flag; SQLite's FTS5 index is keyed
by it and also indexes the speaker's name and the filters as words, so a search reads only the
full-text index, newest first, and stops after the newest matches.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from orchestrator.db.models import UtcDateTime
from orchestrator.search.keys import search_key

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The words orchestrator.search.keys.facet spells for queries: p<province> a<agency> k<kind>
# r<role> s<session> [c<case>] [restricted], with "-" and "_" removed (the tokenizer splits there).
_FACETS = (
    "'p' || replace(province_code, '-', '') || ' a' || agency_id"
    " || ' k' || replace(replace(session_kind, '_', ''), '-', '')"
    " || ' r' || replace(replace(speaker_role, '_', ''), '-', '')"
    " || ' s' || session_id"
    " || coalesce(' c' || replace(replace(case_classification, '_', ''), '-', ''), '')"
    " || CASE WHEN restricted THEN ' restricted' ELSE '' END"
)
_COLUMNS = "text_folded, text_exact, speaker_folded, facets"
_FTS5 = (
    f"CREATE VIRTUAL TABLE transcript_fts USING fts5({_COLUMNS}, "
    "content='transcript_utterances', content_rowid='search_key', "
    "tokenize='unicode61 remove_diacritics 0')"
)
_FTS5_0007 = (
    "CREATE VIRTUAL TABLE transcript_fts USING fts5(text_folded, text_exact, "
    "content='transcript_utterances', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 0')"
)


def _triggers(rowid: str, columns: str) -> tuple[str, ...]:
    new = ", ".join(f"new.{c.strip()}" for c in columns.split(","))
    old = ", ".join(f"old.{c.strip()}" for c in columns.split(","))
    delete = (
        f"INSERT INTO transcript_fts(transcript_fts, rowid, {columns}) "
        f"VALUES ('delete', old.{rowid}, {old});"
    )
    insert = f"INSERT INTO transcript_fts(rowid, {columns}) VALUES (new.{rowid}, {new});"
    on = "ON transcript_utterances BEGIN"
    return (
        f"CREATE TRIGGER transcript_fts_ai AFTER INSERT {on} {insert} END",
        f"CREATE TRIGGER transcript_fts_ad AFTER DELETE {on} {delete} END",
        f"CREATE TRIGGER transcript_fts_au AFTER UPDATE {on} {delete} {insert} END",
    )


def _drop_fts() -> None:
    for trigger in ("ai", "ad", "au"):
        op.execute(f"DROP TRIGGER IF EXISTS transcript_fts_{trigger}")
    op.execute("DROP TABLE IF EXISTS transcript_fts")


def _fill_keys() -> None:
    bind = op.get_bind()
    utterances = sa.table(
        "transcript_utterances",
        sa.column("id", sa.Integer),
        sa.column("session_id", sa.Integer),
        sa.column("seq", sa.Integer),
        sa.column("province_code", sa.String),
        sa.column("session_start", UtcDateTime),
        sa.column("search_key", sa.BigInteger),
    )
    provinces = sa.table(
        "provinces", sa.column("code", sa.String), sa.column("gso_code", sa.String)
    )
    rows = bind.execute(
        sa.select(utterances.c.id, utterances.c.session_id, utterances.c.seq,
                  utterances.c.session_start, provinces.c.gso_code)
        .join(provinces, provinces.c.code == utterances.c.province_code)
    ).all()  # fmt: skip
    if rows:
        bind.execute(
            utterances.update()
            .where(utterances.c.id == sa.bindparam("row_id"))
            .values(search_key=sa.bindparam("key")),
            [{"row_id": r.id, "key": search_key(r.session_start, r.gso_code, r.session_id, r.seq)}
             for r in rows],
        )  # fmt: skip
    op.execute(
        "UPDATE transcript_utterances SET restricted = (SELECT s.restricted FROM "
        "reception_sessions s WHERE s.id = transcript_utterances.session_id)"
    )


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _drop_fts()
    with op.batch_alter_table("transcript_utterances") as batch:
        batch.add_column(sa.Column("search_key", sa.BigInteger(), nullable=True))
        batch.add_column(
            sa.Column("restricted", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    _fill_keys()
    with op.batch_alter_table("transcript_utterances") as batch:
        batch.alter_column("search_key", existing_type=sa.BigInteger(), nullable=False)
        batch.alter_column("restricted", existing_type=sa.Boolean(), server_default=None)
        batch.create_unique_constraint(op.f("uq_transcript_utterances_search_key"), ["search_key"])
    if not sqlite:
        return
    op.execute(
        f"ALTER TABLE transcript_utterances ADD COLUMN facets TEXT "
        f"GENERATED ALWAYS AS ({_FACETS}) VIRTUAL"
    )
    op.execute(_FTS5)
    for trigger in _triggers("search_key", _COLUMNS):
        op.execute(trigger)
    op.execute("INSERT INTO transcript_fts(transcript_fts) VALUES ('rebuild')")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _drop_fts()
        op.execute("ALTER TABLE transcript_utterances DROP COLUMN facets")
    with op.batch_alter_table("transcript_utterances") as batch:
        batch.drop_constraint(op.f("uq_transcript_utterances_search_key"), type_="unique")
        batch.drop_column("restricted")
        batch.drop_column("search_key")
    if sqlite:
        op.execute(_FTS5_0007)
        for trigger in _triggers("id", "text_folded, text_exact"):
            op.execute(trigger)
        op.execute("INSERT INTO transcript_fts(transcript_fts) VALUES ('rebuild')")
