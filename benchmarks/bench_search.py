"""Archive search at scale: a synthetic corpus of Vietnamese transcripts, indexed in SQLite FTS5
and PostgreSQL (tsvector + GIN), queried through the real search service.

The words are drawn (Zipf-like) from real Vietnamese words with their diacritics; sessions are two
hours long, about 9,000 words per session-hour, spread over the 34 provinces and 2025–2026.
Prints, per backend: build time, index size, p50 / p95 of 20 representative queries (2–4 words,
phrases, prefixes, unaccented, with filters; each one full search = page + total + counts per
province + audit row), and the ratio of a plain ``LIKE '%…%'`` scan to the indexed search.
PostgreSQL is the local stack's; the benchmark creates and drops a database of its own.

How to run it, and the latest figures: ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from config import load_settings
from orchestrator.accounts.schemas import UserCreate
from orchestrator.accounts.service import new_user
from orchestrator.core.vocabulary import Role, SessionKind, SessionStatus, Tier
from orchestrator.db import create_engine, migrate, session_factory
from orchestrator.db.models import Agency, Province, ReceptionSession, TranscriptUtterance, User
from orchestrator.search import SearchFilters, search
from orchestrator.search.folding import exact_tokens, fold, folded_tokens
from orchestrator.search.keys import search_key

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' throwaway databases
from tests.databases import empty_database  # noqa: E402

TARGET_P95_MS = 50.0
WORDS_PER_HOUR = 9000
SESSION_HOURS = 2
WORDS_PER_UTTERANCE = 30
RUNS_PER_QUERY = 5

# Real Vietnamese words and the phrases they usually come in, roughly most common first (the draw
# favours the first ones). Utterances are drawn unit by unit, so phrases occur as phrases.
VOCABULARY = [
    unit.strip()
    for unit in """
và, của, là, có, không, được, cho, người, này, những, với, các, một, trong, đã, đến, về, khi, thì,
như, tôi, chúng tôi, ông, bà, anh, chị, em, xin, đề nghị, ý kiến, cơ quan nhà nước,
ủy ban nhân dân, tỉnh, huyện, xã, phường, đất đai, thu hồi đất, bồi thường, hỗ trợ tái định cư,
bồi thường hỗ trợ tái định cư, giải phóng mặt bằng, dự án, quy hoạch, sổ đỏ,
giấy chứng nhận quyền sử dụng đất, khiếu nại, tố cáo, kiến nghị, phản ánh, đơn thư, hồ sơ,
quyết định, giải quyết, thẩm quyền, trả lời, công dân, cán bộ, tiếp công dân, chủ tịch, thanh tra,
kiểm tra, xác minh, kết luận, thông báo, vi phạm pháp luật, chính sách, chế độ, lương hưu,
bảo hiểm xã hội, y tế, giáo dục, trường học, bệnh viện, môi trường, ô nhiễm, tiếng ồn, nước thải,
rác, khói bụi, công trình xây dựng, đường giao thông, cầu cống, đê điều, thủy lợi, nông nghiệp,
ruộng lúa, vườn cây, ao hồ, rừng, biển đảo, sông ngòi, kênh mương, gia đình, con cháu, vợ chồng,
cha mẹ, họ hàng, hàng xóm, thôn, bản, làng, tổ dân phố, khu phố, tiền, triệu đồng, tỷ đồng,
mét vuông, diện tích, giá trị, đơn giá, giá thị trường, định giá, thẩm định, phê duyệt, năm,
tháng, ngày, tuần, trước, sau, hiện nay, từ lâu, nhiều lần, đã gửi, chưa được trả lời, thỏa đáng,
đúng, sai, công bằng, minh bạch, dân chủ, trách nhiệm, nghĩa vụ, quyền lợi hợp pháp, chính đáng,
Hà Nội, Hải Phòng, Huế, Đà Nẵng, Hồ Chí Minh, Cần Thơ, Ninh Bình, Thanh Hóa, Nghệ An,
Quảng Ninh, Lào Cai, Điện Biên, Sơn La, Lạng Sơn, Cao Bằng, Tuyên Quang, Thái Nguyên, Phú Thọ,
Bắc Ninh, Hưng Yên, Hà Tĩnh, Quảng Trị, Quảng Ngãi, Gia Lai, Khánh Hòa, Lâm Đồng, Đắk Lắk,
Đồng Nai, Tây Ninh, Vĩnh Long, Đồng Tháp, An Giang, Cà Mau, Lai Châu, đề xuất, xem xét,
ghi nhận, tiếp thu, chỉ đạo, yêu cầu, báo cáo, thời hạn
""".split(",")
]

QUERIES: list[tuple[str, SearchFilters]] = [
    ("khiếu nại", SearchFilters()),
    ("khieu nai dat dai", SearchFilters()),
    ('"thu hồi đất"', SearchFilters()),
    ('"bồi thường hỗ trợ tái định cư"', SearchFilters()),
    ("tố cáo cán bộ", SearchFilters()),
    ("ô nhiễm nước thải", SearchFilters()),
    ("sổ đỏ giấy chứng nhận", SearchFilters()),
    ("bảo hiểm xã hội lương hưu", SearchFilters()),
    ("da nang", SearchFilters()),
    ("giải phóng mặt bằng", SearchFilters(province="ninh-binh")),
    ("định giá", SearchFilters(date_from=date(2026, 1, 1), date_to=date(2026, 3, 31))),
    ("tiếng ồn", SearchFilters(kind="periodic")),
    ("thẩm định*", SearchFilters()),
    ("quy hoạch OR dự án", SearchFilters(province="ha-noi")),
    ("đê điều NOT thủy lợi", SearchFilters()),
    ('"chưa được trả lời"', SearchFilters(province="thanh-hoa")),
    ("thoa dang", SearchFilters(role="citizen")),
    ("minh bạch công bằng", SearchFilters(date_from=date(2025, 6, 1))),
    ("kênh mương ruộng lúa", SearchFilters(province="an-giang", kind="regular")),
    (
        "hồ sơ kết luận thanh tra",
        SearchFilters(date_from=date(2026, 6, 1), date_to=date(2026, 6, 30)),
    ),
]
ROLES = ("citizen", "citizen", "officer", "chair")


def utterance_texts(rng: random.Random, count: int) -> Iterator[tuple[str, str, str]]:
    """``(text, folded, exact)`` of ``count`` utterances."""
    weights = [1.0 / (rank + 8) for rank in range(len(VOCABULARY))]
    folded = {w: " ".join(folded_tokens(w)) for w in VOCABULARY}
    exact = {w: " ".join(exact_tokens(w)) for w in VOCABULARY}
    # About WORDS_PER_UTTERANCE words: units average a little under two words.
    units = WORDS_PER_UTTERANCE * 10 // 17
    for _ in range(count):
        words = rng.choices(VOCABULARY, weights, k=units)
        yield (" ".join(words).capitalize() + ".", " ".join(folded[w] for w in words),
               " ".join(exact[w] for w in words))  # fmt: skip


async def build(engine: AsyncEngine, session_hours: int, seed: int = 7) -> tuple[float, int]:
    """Migrate and fill the index; seconds taken and words written."""
    rng = random.Random(seed)
    started = time.perf_counter()
    await migrate(engine)
    factory = session_factory(engine)
    async with factory() as db:
        gso = dict((await db.execute(select(Province.code, Province.gso_code))).all())
        provinces = sorted(c for c in gso if c != "tw")
        agencies = [Agency(name=f"Ban Tiếp công dân {c}", tier=Tier.PROVINCE, province_code=c)
                    for c in provinces]  # fmt: skip
        central = Agency(name="Ban Tiếp công dân Trung ương", tier=Tier.CENTRAL, province_code="tw")
        db.add_all([*agencies, central])
        await db.flush()
        db.add(new_user(UserCreate(username="bench", display_name="Bench", role=Role.ADMIN,
                                   password="mat-khau-dai-du", agency_id=central.id,
                                   cleared=True)))  # fmt: skip
        await db.commit()
    sessions = session_hours // SESSION_HOURS
    per_session = SESSION_HOURS * WORDS_PER_HOUR // WORDS_PER_UTTERANCE
    texts = utterance_texts(rng, sessions * per_session)
    epoch = datetime(2025, 1, 1, 1, 0, tzinfo=UTC)
    words = 0
    kinds = list(SessionKind)
    for first in range(0, sessions, 50):
        async with factory() as db:
            batch = []
            for _ in range(first, min(sessions, first + 50)):
                agency = rng.choice(agencies)
                starts = epoch + timedelta(days=rng.randrange(700), hours=rng.randrange(8))
                batch.append(ReceptionSession(
                    title="Phiên tiếp công dân định kỳ", kind=rng.choice(kinds),
                    agency_id=agency.id, starts_at=starts, ends_at=starts + timedelta(hours=2),
                    status=SessionStatus.ARCHIVED, restricted=rng.random() < 0.05,
                ))  # fmt: skip
            db.add_all(batch)
            await db.flush()
            rows: list[dict[str, Any]] = []
            for s in batch:
                agency_code = next(a.province_code for a in agencies if a.id == s.agency_id)
                for seq in range(per_session):
                    body, folded, exact = next(texts)
                    role = ROLES[seq % len(ROLES)]
                    speaker = f"Người nói {seq % 7}"
                    rows.append({
                        "session_id": s.id, "seq": seq, "start_s": seq * 24.0,
                        "end_s": seq * 24.0 + 20.0, "speaker_name": speaker,
                        "speaker_folded": fold(speaker), "speaker_role": role,
                        "connection_point": "Điểm cầu", "text": body, "text_folded": folded,
                        "text_exact": exact, "province_code": agency_code,
                        "agency_id": s.agency_id, "session_start": s.starts_at,
                        "session_kind": s.kind.value, "case_classification": None,
                        "restricted": s.restricted,
                        "search_key": search_key(s.starts_at, gso[agency_code], s.id, seq),
                    })  # fmt: skip
            words += sum(r["text_folded"].count(" ") + 1 for r in rows)
            await db.execute(insert(TranscriptUtterance), rows)
            await db.commit()
        done = min(sessions, first + 50)
        if done % 500 == 0 or done == sessions:
            print(f"  {done}/{sessions} sessions, {words / 1e6:.1f} M words, "
                  f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
    async with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            await conn.execute(
                text("INSERT INTO transcript_fts(transcript_fts) VALUES ('optimize')")
            )
        else:
            await conn.execute(text("ANALYZE"))
    return time.perf_counter() - started, words


def like_conditions(q: str) -> list[str]:
    """The words of a query as a naive implementation would scan for them."""
    return [w for w in fold(q.replace('"', " ").replace("*", "")).split()
            if w not in ("or", "not")]  # fmt: skip


async def measure(engine: AsyncEngine, size_bytes: int) -> dict[str, float]:
    factory = session_factory(engine)
    latencies: list[float] = []
    likes: list[float] = []
    async with factory() as db:
        user = await db.scalar(select(User).where(User.username == "bench"))
        assert user is not None
        for q, filters in QUERIES:
            for run in range(RUNS_PER_QUERY + 1):
                t0 = time.perf_counter()
                result = await search(db, user, q, filters)
                if run:  # the first run warms the cache
                    latencies.append((time.perf_counter() - t0) * 1000)
            words = like_conditions(q)
            stmt = (
                select(func.count())
                .select_from(TranscriptUtterance)
                .where(*[TranscriptUtterance.text_folded.like(f"%{w}%") for w in words])
            )
            t0 = time.perf_counter()
            await db.scalar(stmt)
            likes.append((time.perf_counter() - t0) * 1000)
            total = f"{result.total}{'+' if result.capped else ''}"
            print(f"    {q!r:42} total {total:>9}  "
                  f"p50 {statistics.median(latencies[-RUNS_PER_QUERY:]):8.1f} ms  "
                  f"LIKE {likes[-1]:9.1f} ms", flush=True)  # fmt: skip
    latencies.sort()
    p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
    return {
        "p50": statistics.median(latencies),
        "p95": p95,
        "like_p50": statistics.median(likes),
        "size_mb": size_bytes / 1e6,
    }


async def run_backend(backend: str, session_hours: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        async with empty_database(backend, load_settings(), Path(directory)) as url:
            await _run(backend, url, Path(directory), session_hours)


async def _run(backend: str, url: str, directory: Path, session_hours: int) -> None:
    engine = create_engine(url)
    try:
        print(f"{backend}: building {session_hours} session-hours", flush=True)
        seconds, words = await build(engine, session_hours)
        if backend == "sqlite":
            size = sum(p.stat().st_size for p in directory.iterdir())
        else:
            async with engine.connect() as conn:
                size = int(await conn.scalar(text("SELECT pg_database_size(current_database())")))
        stats = await measure(engine, size)
        print(f"{backend}: {session_hours} session-hours, {words / 1e6:.1f} M words; build "
              f"{seconds:.0f} s; size {stats['size_mb']:.0f} MB; search p50 {stats['p50']:.1f} ms, "
              f"p95 {stats['p95']:.1f} ms (target ≤ {TARGET_P95_MS:.0f} ms on SQLite: "
              f"{stats['p95'] / TARGET_P95_MS:.2f}× the target); LIKE scan p50 "
              f"{stats['like_p50']:.0f} ms = {stats['like_p50'] / stats['p50']:.0f}× the indexed "
              f"search's p50", flush=True)  # fmt: skip
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--session-hours", type=int, default=10_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        asyncio.run(run_backend(backend.strip(), args.session_hours))


if __name__ == "__main__":
    main()
