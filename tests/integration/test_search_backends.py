"""SQLite FTS5 and PostgreSQL full-text search give the same answers on the same corpus."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Literal

import asyncpg
import pytest
from sqlalchemy import select

from config import Settings
from orchestrator.db import create_engine, migrate, session_factory
from orchestrator.db.models import User
from orchestrator.search import SearchFilters, search
from tests.integration.conftest import _seed
from tests.search_corpus import seed_corpus

pytestmark = pytest.mark.asyncio(loop_scope="session")

SORTS: tuple[Literal["date", "relevance"], ...] = ("date", "relevance")
QUERIES: list[tuple[str, SearchFilters, bool]] = [
    ("khieu nai", SearchFilters(), False),
    ("khiếu nại", SearchFilters(), True),
    ("da nang", SearchFilters(), False),
    ('"thu hồi đất"', SearchFilters(), False),
    ("thu hồi đất", SearchFilters(), False),
    ("bồi*", SearchFilters(), False),
    ("b*", SearchFilters(), False),
    ("tiếng OR đường", SearchFilters(), False),
    ("bồi NOT đê", SearchFilters(), False),
    ('đất NOT "thu hồi"', SearchFilters(), False),
    ("tôi OR đề OR ghi OR cong OR kiến", SearchFilters(province="ninh-binh"), False),
    ("tôi OR đề OR ghi OR cong OR kiến", SearchFilters(role="citizen", kind="periodic"), False),
    ("tôi", SearchFilters(speaker="van duc"), False),
    ("hoi lo", SearchFilters(), False),
    ("Đà", SearchFilters(), True),
    ("xã", SearchFilters(case_classification="kien_nghi"), False),
]


async def _answers(url: str) -> list[Any]:
    engine = create_engine(url)
    await migrate(engine)
    db_factory = session_factory(engine)
    try:
        agencies, _users, _tokens, usernames = await _seed(db_factory, "search")
        await seed_corpus(db_factory, agencies)
        answers = []
        async with db_factory() as db:
            for username in (usernames["admin"], usernames["archivist"]):
                who = await db.scalar(select(User).where(User.username == username))
                assert who is not None
                for q, filters, exact in QUERIES:
                    for sort in SORTS:
                        r = await search(db, who, q, filters, exact=exact, sort=sort)
                        hits = [(h.session_id, h.start_s, h.snippet_html) for h in r.hits]
                        # Relevance scores differ (bm25 vs ts_rank); the set of hits may not.
                        answers.append((username, q, sort, r.total,
                                        hits if sort == "date" else sorted(hits),
                                        [p.model_dump() for p in r.provinces]))  # fmt: skip
        return answers
    finally:
        await engine.dispose()


async def test_sqlite_and_postgresql_agree(local_stack: Settings, tmp_path: Path) -> None:
    name = f"tiepdan_search_{uuid.uuid4().hex[:10]}"
    port = local_stack.db.local_postgres_port
    admin = await asyncpg.connect(host="127.0.0.1", port=port, user="tiepdan", database="postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        on_postgres = await _answers(f"postgresql+asyncpg://tiepdan@127.0.0.1:{port}/{name}")
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
    on_sqlite = await _answers(f"sqlite+aiosqlite:///{tmp_path / 'search.db'}")
    assert len(on_sqlite) == 2 * len(QUERIES) * 2
    # Not a comparison of nothing: most queries find something.
    assert sum(1 for a in on_sqlite if a[3] > 0) >= len(on_sqlite) * 3 // 4
    for s, p in zip(on_sqlite, on_postgres, strict=True):
        assert s == p, (s, p)
