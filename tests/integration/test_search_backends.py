"""SQLite FTS5 and PostgreSQL full-text search give the same answers on the same corpus; both
stop reading at the newest matches; an archive indexed before search keys is upgraded."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from config import Settings
from orchestrator.core.errors import BadRequest
from orchestrator.db import create_engine, migrate, session_factory
from orchestrator.db.models import ReceptionSession, TranscriptUtterance, User
from orchestrator.search import SearchFilters, fold, search
from orchestrator.search import service as search_service
from orchestrator.search.folding import exact_tokens, folded_tokens
from tests.databases import empty_database
from tests.integration.conftest import _seed
from tests.search_corpus import CORPUS, archived_session, seed_corpus

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


@dataclass
class Seeded:
    """A migrated database with the test agencies and users."""

    engine: AsyncEngine
    db: async_sessionmaker[Any]
    agencies: dict[str, int]
    usernames: dict[str, str]


@contextlib.asynccontextmanager
async def seeded(url: str, run: str, revision: str = "head") -> AsyncIterator[Seeded]:
    """The database at ``url`` migrated to ``revision``, with the test agencies and users."""
    engine = await asyncio.to_thread(create_engine, url)  # it resolves a SQLite path
    await migrate(engine, revision)
    db_factory = session_factory(engine)
    try:
        agencies, _users, _tokens, usernames = await _seed(db_factory, run)
        yield Seeded(engine, db_factory, agencies, usernames)
    finally:
        await engine.dispose()


async def _answers(url: str) -> list[Any]:
    async with seeded(url, "search") as world:
        db_factory, usernames = world.db, world.usernames
        await seed_corpus(db_factory, world.agencies)
        answers = []
        async with db_factory() as db:
            for username in (usernames["admin"], usernames["archivist"]):
                who = await db.scalar(select(User).where(User.username == username))
                assert who is not None
                for q, filters, exact in QUERIES:
                    for sort in SORTS:
                        r = await search(db, who, q, filters, exact=exact, sort=sort)
                        # Relevance is ranked in Python on both: the same order too.
                        hits = [(h.session_id, h.start_s, h.snippet_html) for h in r.hits]
                        answers.append((username, q, sort, r.total, hits,
                                        [p.model_dump() for p in r.provinces]))  # fmt: skip
        return answers


async def test_sqlite_and_postgresql_agree(local_stack: Settings, tmp_path: Path) -> None:
    async with empty_database("postgresql", local_stack, tmp_path) as url:
        on_postgres = await _answers(url)
    async with empty_database("sqlite", local_stack, tmp_path) as url:
        on_sqlite = await _answers(url)
    assert len(on_sqlite) == 2 * len(QUERIES) * 2
    # Not a comparison of nothing: most queries find something.
    assert sum(1 for a in on_sqlite if a[3] > 0) >= len(on_sqlite) * 3 // 4
    for s, p in zip(on_sqlite, on_postgres, strict=True):
        assert s == p, (s, p)


EVERY_LINE = "tôi OR đề OR ghi OR cong OR kiến"  # every corpus utterance has one of these words


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_only_the_newest_matches_are_read(
    local_stack: Settings, tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with empty_database(backend, local_stack, tmp_path) as url, seeded(url, "cap") as world:
        await seed_corpus(world.db, world.agencies)
        async with world.db() as db:
            admin = await db.scalar(select(User).where(User.username == world.usernames["admin"]))
            assert admin is not None
            everything = await search(db, admin, EVERY_LINE, sort="date", per_page=100)
            assert not everything.capped and everything.total == 7
            monkeypatch.setattr(search_service, "MAX_COUNTED", 3)
            capped = await search(db, admin, EVERY_LINE, sort="date", per_page=100)
            # The three newest utterances (by session start, then the latest said), shown
            # newest session first and in the order spoken.
            newest = sorted(everything.hits, key=lambda h: (h.session_start, h.start_s))[-3:]
            expected = sorted(newest, key=lambda h: (-h.session_start.timestamp(), h.start_s))
            assert capped.capped and capped.total == 3
            assert [h.utterance_id for h in capped.hits] == [h.utterance_id for h in expected]
            assert sum(p.count for p in capped.provinces) == 3
            ranked = await search(db, admin, EVERY_LINE, per_page=100)
            assert {h.utterance_id for h in ranked.hits} == {h.utterance_id for h in capped.hits}
            # Relevance orders only the newest RANKED; the older ones follow by date.
            monkeypatch.setattr(search_service, "RANKED", 2)
            partly = [h.utterance_id for h in (await search(db, admin, EVERY_LINE)).hits]
            by_date = [h.utterance_id for h in capped.hits]
            assert set(partly[:2]) == set(by_date[:2]) and partly[2] == by_date[2]
            # Pages past the newest MAX_COUNTED: a clear refusal, not an empty page.
            with pytest.raises(BadRequest, match="thu hẹp"):
                await search(db, admin, EVERY_LINE, page=2, per_page=3)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_an_archive_indexed_before_search_keys_is_upgraded(
    local_stack: Settings, tmp_path: Path, backend: str
) -> None:
    async with (
        empty_database(backend, local_stack, tmp_path) as url,
        seeded(url, "keys", revision="0008") as world,
    ):
        # Revision 0008's utterance table: no search key, no restricted flag.
        old_table = sa.table(
            "transcript_utterances",
            *(sa.column(c.name, c.type) for c in TranscriptUtterance.__table__.columns
              if c.name not in ("id", "search_key", "restricted")),
        )  # fmt: skip
        ids = {}
        async with world.db() as db:
            for c in CORPUS:
                # Only the columns archived_session sets (columns added after 0008 are absent).
                session = archived_session(c, world.agencies)
                values = {k: v for k, v in vars(session).items() if not k.startswith("_")}
                session_id = await db.scalar(
                    sa.insert(ReceptionSession).values(values).returning(ReceptionSession.id)
                )
                ids[session_id] = c.key
                province = "ninh-binh" if c.agency == "commune" else c.agency
                await db.execute(old_table.insert(), [
                    {"session_id": session_id, "seq": seq, "start_s": start, "end_s": start + 5,
                     "speaker_name": name, "speaker_folded": fold(name), "speaker_role": role,
                     "connection_point": point, "text": line,
                     "text_folded": " ".join(folded_tokens(line)),
                     "text_exact": " ".join(exact_tokens(line)), "province_code": province,
                     "agency_id": world.agencies[c.agency], "session_start": c.starts,
                     "session_kind": c.kind.value, "case_classification": c.case}
                    for seq, (start, name, role, point, line) in enumerate(c.lines)
                ])  # fmt: skip
            await db.commit()
        await migrate(world.engine)
        async with world.db() as db:
            restricted = {
                ids[session_id]: flag for session_id, flag in (await db.execute(
                    select(TranscriptUtterance.session_id, TranscriptUtterance.restricted)
                )).all()
            }  # fmt: skip
            assert restricted == {c.key: c.restricted for c in CORPUS}
            found = {}
            for who in ("admin", "archivist"):
                user = await db.scalar(select(User).where(User.username == world.usernames[who]))
                assert user is not None
                result = await search(db, user, EVERY_LINE, sort="date", per_page=100)
                found[who] = [ids[h.session_id] for h in result.hits]
    by_start = [c.key for c in sorted(CORPUS, key=lambda c: c.starts, reverse=True)]
    assert list(dict.fromkeys(found["admin"])) == by_start
    # The Ninh Bình archivist is not cleared: the denunciation stays hidden.
    assert set(found["archivist"]) == {"nb_land", "commune_dyke"}
