"""Archive search through the real orchestrator (SQLite and PostgreSQL): Vietnamese matching,
phrases, filters, scope, restricted sessions, audit, bad input, the CLI and the index job."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from sqlalchemy import select

from orchestrator.core.vocabulary import SessionKind
from orchestrator.db.models import AuditEntry, RecordingRequest, TranscriptUtterance
from orchestrator.pipeline.index_step import index_session_job
from orchestrator.search import index_transcript
from orchestrator.search import service as search_service
from orchestrator.search.folding import folded_tokens
from storage.spool import MIXED_AUDIO, SessionSpool
from tests.integration.conftest import World
from tests.search_corpus import CORPUS, CorpusSession, archived_session, transcript_of
from transcription import TaskName, create_celery
from transcription.formats import to_json
from transcription.merge import Speaker, Transcript, Utterance
from transcription.segments import Word

pytestmark = pytest.mark.asyncio(loop_scope="session")

# The corpus' dates: other tests' sessions (created "now") stay out of the counts.
WINDOW = {"from": "2026-03-01", "to": "2026-06-30"}


async def find(
    http: aiohttp.ClientSession, world: World, who: str, q: str, **params: str
) -> tuple[int, Any]:
    query = {"q": q, **WINDOW, **params}
    async with http.get(f"{world.base_url}/api/v1/search", params=query,
                        headers=world.headers(who)) as r:  # fmt: skip
        return r.status, await r.json(content_type=None)


def sessions_of(body: Any, ids: dict[str, int]) -> set[str]:
    names = {v: k for k, v in ids.items()}
    return {names[h["session_id"]] for h in body["hits"]}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("khieu nai", {"nb_land", "hn_noise"}),  # unaccented finds accented, and itself
        ("khiếu nại", {"nb_land", "hn_noise"}),  # accented finds the unaccented officer's line
        ("da nang", {"hn_noise"}),  # đ folded to d
        ("ĐÀ NẴNG", {"hn_noise"}),
        ("dong", set()),  # the speaker's name is not the text: "Đông" is not said
        ("duong de", {"commune_dyke"}),
    ],
)
async def test_diacritics_and_d_fold_both_ways(
    world: World, http: aiohttp.ClientSession, corpus: dict[str, int], q: str, expected: set[str]
) -> None:
    status, body = await find(http, world, "admin", q, per_page="50")
    assert status == 200, body
    assert sessions_of(body, corpus) == expected


async def test_exact_search_keeps_diacritics(
    world: World, http: aiohttp.ClientSession, corpus: dict[str, int]
) -> None:
    _, folded = await find(http, world, "admin", "khiếu nại")
    _, exact = await find(http, world, "admin", "khiếu nại", exact="1")
    assert sessions_of(folded, corpus) == {"nb_land", "hn_noise"}
    assert sessions_of(exact, corpus) == {"nb_land"}
    _, unaccented_exact = await find(http, world, "admin", "khieu nai", exact="1")
    assert sessions_of(unaccented_exact, corpus) == {"hn_noise"}


async def test_phrase_versus_words(
    world: World, http: aiohttp.ClientSession, corpus: dict[str, int]
) -> None:
    _, words = await find(http, world, "admin", "thu hồi đất")
    _, phrase = await find(http, world, "admin", '"thu hồi đất"')
    # Ha Noi's citizen says "đất ... thu hồi": all the words, not the phrase.
    assert sessions_of(words, corpus) == {"nb_land", "hn_noise", "nb_secret"}
    assert sessions_of(phrase, corpus) == {"nb_land", "nb_secret"}
    _, prefix = await find(http, world, "admin", "bồi*")
    assert sessions_of(prefix, corpus) == {"nb_land", "commune_dyke"}
    _, either = await find(http, world, "admin", "tiếng OR đường")
    assert sessions_of(either, corpus) == {"hn_noise", "commune_dyke"}
    _, without = await find(http, world, "admin", "bồi NOT đê")
    assert sessions_of(without, corpus) == {"nb_land"}


async def test_snippets_mark_the_match(
    world: World, http: aiohttp.ClientSession, corpus: dict[str, int]
) -> None:
    _, body = await find(http, world, "admin", "da nang")
    (hit,) = body["hits"]
    assert "<mark>Đà</mark> <mark>Nẵng</mark>" in hit["snippet_html"]
    assert hit["speaker_name"] == "Trần Thị Hoa" and hit["start_s"] == 1.0
    assert hit["playback_url"] == f"/archive/sessions/{corpus['hn_noise']}#t=1.0"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"province": "ninh-binh"}, {"nb_land", "commune_dyke", "nb_secret"}),
        ({"province": "ha-noi"}, {"hn_noise"}),
        ({"from": "2026-04-01", "to": "2026-04-30"}, {"hn_noise"}),
        ({"from": "2026-05-20"}, {"commune_dyke"}),
        ({"kind": "periodic"}, {"nb_land", "nb_secret"}),
        ({"role": "chair"}, {"nb_land"}),
        ({"speaker": "le van dong"}, {"commune_dyke"}),
        ({"speaker": "Đức"}, {"nb_land"}),
        ({"speaker": "van d"}, {"nb_land", "commune_dyke"}),  # each word begins a name's word
        ({"speaker": "uc"}, set()),  # not the inside of a word
        ({"case": "kien_nghi"}, {"commune_dyke"}),
        ({"case": "to_cao"}, {"nb_secret"}),
    ],
)
async def test_filters(
    world: World, http: aiohttp.ClientSession, corpus: dict[str, int], params: dict[str, str],
    expected: set[str],
) -> None:  # fmt: skip
    # Every corpus utterance has one of these words.
    q = "tôi OR đề OR ghi OR cong OR kiến"
    status, body = await find(http, world, "admin", q, per_page="100", **params)
    assert status == 200, body
    assert sessions_of(body, corpus) == expected


async def test_agency_filter_sort_and_pages(
    world: World, http: aiohttp.ClientSession, corpus: dict[str, int]
) -> None:
    q = "tôi OR đề OR ghi OR cong OR kiến"
    _, commune = await find(http, world, "admin", q, agency_id=str(world.agencies["commune"]))
    assert sessions_of(commune, corpus) == {"commune_dyke"}
    _, by_date = await find(http, world, "admin", q, sort="date", per_page="100")
    starts = [h["session_start"] for h in by_date["hits"]]
    assert starts == sorted(starts, reverse=True) and by_date["total"] == 7
    pages = [await find(http, world, "admin", q, sort="date", per_page="3", page=str(p))
             for p in (1, 2, 3)]  # fmt: skip
    ids = [h["utterance_id"] for _s, b in pages for h in b["hits"]]
    assert ids == [h["utterance_id"] for h in by_date["hits"]]
    assert all(b["total"] == 7 for _s, b in pages)


async def test_counts_per_province(
    world: World, http: aiohttp.ClientSession, corpus: dict[str, int]
) -> None:
    _, body = await find(http, world, "admin", "thu hồi")
    assert {p["province_name"]: p["count"] for p in body["provinces"]} == {
        "Ninh Bình": 2, "Hà Nội": 1
    }  # fmt: skip
    assert body["total"] == 3


async def test_restricted_sessions_leak_nothing(
    world: World, http: aiohttp.ClientSession, corpus: dict[str, int]
) -> None:
    # "hối lộ" is said only in the restricted session.
    status, body = await find(http, world, "archivist", "hoi lo")
    assert status == 200
    assert body["total"] == 0 and body["hits"] == [] and body["provinces"] == []
    # Shared words: the restricted session adds nothing to rows, counts or snippets.
    _, shared = await find(http, world, "archivist", "thu hồi", per_page="100")
    assert sessions_of(shared, corpus) == {"nb_land"}
    assert shared["total"] == 1
    assert shared["provinces"] == [{"province_code": "ninh-binh", "province_name": "Ninh Bình",
                                    "count": 1}]  # fmt: skip
    assert not any("tố cáo" in h["snippet_html"] or "lộ" in h["snippet_html"]
                   for h in shared["hits"])  # fmt: skip
    _, by_case = await find(http, world, "archivist", "tôi", case="to_cao")
    assert by_case["total"] == 0 and by_case["provinces"] == []
    # A cleared user sees it.
    _, cleared = await find(http, world, "admin", "hoi lo")
    assert sessions_of(cleared, corpus) == {"nb_secret"}
    # The playback page does not reveal it either.
    async with http.get(f"{world.base_url}/archive/sessions/{corpus['nb_secret']}",
                        headers=world.headers("archivist")) as r:  # fmt: skip
        assert r.status == 404
        assert "hối lộ" not in await r.text()


async def test_archivist_sees_own_province_only(
    world: World, http: aiohttp.ClientSession, corpus: dict[str, int]
) -> None:
    _, body = await find(http, world, "archivist", "khiếu OR bồi OR đê", per_page="100")
    assert sessions_of(body, corpus) == {"nb_land", "commune_dyke"}
    assert {p["province_code"] for p in body["provinces"]} == {"ninh-binh"}
    # A filter cannot widen the scope.
    _, other = await find(http, world, "archivist", "khieu nai", province="ha-noi")
    assert other["total"] == 0


async def test_only_archivists_and_admins_search(
    world: World, http: aiohttp.ClientSession, corpus: dict[str, int]
) -> None:
    status, body = await find(http, world, "officer", "khieu nai")
    assert status == 403 and "lưu trữ" in body["detail"]
    async with http.get(f"{world.base_url}/api/v1/search", params={"q": "x"}) as r:
        assert r.status == 401


async def test_every_search_is_audited(
    world: World, http: aiohttp.ClientSession, corpus: dict[str, int]
) -> None:
    marker = "kiểm tra hồ sơ"
    await find(http, world, "archivist", marker, province="ninh-binh")
    await find(http, world, "officer", marker)
    await find(http, world, "archivist", '"' + marker)
    async with world.db() as db:
        rows = list(await db.scalars(
            select(AuditEntry).where(AuditEntry.action == "archive.search")
            .order_by(AuditEntry.id.desc()).limit(3)
        ))  # fmt: skip
    bad, denied, ok = rows
    assert ok.actor_user_id == world.users["archivist"] and ok.outcome == "allowed"
    assert ok.detail["query"] == marker and ok.detail["results"] == 1
    assert ok.detail["filters"]["province"] == "ninh-binh"
    assert ok.detail["filters"]["date_from"] == "2026-03-01"
    assert denied.actor_user_id == world.users["officer"] and denied.outcome == "denied"
    assert bad.outcome == "failed" and "ngoặc kép" in bad.detail["reason"]


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"q": '"thu hồi đất'}, 400, "ngoặc kép"),
        ({"q": "OR"}, 400, "không có từ nào"),
        ({"q": "AND OR NOT"}, 400, "không có từ nào"),
        ({"q": "NOT đất"}, 400, "loại trừ"),
        ({"q": ""}, 400, "không có từ nào"),
        ({"q": "x " * 300}, 400, "500 ký tự"),
        ({"q": "đất", "per_page": "1000"}, 400, "per_page"),
        ({"q": "đất", "page": "0"}, 400, "page"),
        ({"q": "đất", "page": "hai"}, 400, "phải là số"),
        ({"q": "đất", "from": "10/03/2026"}, 400, "2026-07-01"),
        ({"q": "đất", "from": "2026-05-01", "to": "2026-04-01"}, 400, "trước"),
        ({"q": "đất", "kind": "weekly"}, 400, "kind"),
        ({"q": "đất", "sort": "random"}, 400, "sort"),
        ({"q": 'NEAR(đất, 2) "" ^col:x {a b} * \' ; -- DROP TABLE users'}, 200, ""),
        ({"q": "đất AND"}, 200, ""),
        ({"q": "'; SELECT * FROM users; --"}, 200, ""),
        ({"q": "\\ % _ \x00"}, 400, "không có từ nào"),
        ({"q": "đất", "speaker": "%_\\"}, 200, ""),
        ({"q": "đất", "province": "Ninh Bình"}, 400, "province"),
        ({"q": "đất", "role": 'chair" OR "x'}, 400, "role"),
        ({"q": "đất", "page": "501"}, 400, "10.000 kết quả mới nhất"),
    ],
)
async def test_bad_input_is_a_clear_400_or_a_sane_search(
    world: World, http: aiohttp.ClientSession, corpus: dict[str, int], params: dict[str, str],
    status: int, message: str,
) -> None:  # fmt: skip
    async with http.get(f"{world.base_url}/api/v1/search", params=params,
                        headers=world.headers("admin")) as r:  # fmt: skip
        body = await r.json(content_type=None)
        assert r.status == status, body
    if status == 400:
        assert r.content_type == "application/problem+json"
        assert message in body["detail"]
    text = json.dumps(body, ensure_ascii=False).lower()
    for leak in ("sqlite", "syntax", "fts5", "tsquery", "psycopg", "asyncpg", "traceback"):
        assert leak not in text


async def test_search_page_in_vietnamese(
    world: World, http: aiohttp.ClientSession, corpus: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    url = f"{world.base_url}/archive/search"
    async with http.get(url, params={"q": "da nang", **WINDOW},
                        headers=world.headers("admin")) as r:  # fmt: skip
        page = await r.text()
        assert r.status == 200
    assert "Tìm thấy 1 đoạn phát biểu." in page and "<mark>Đà</mark>" in page
    assert f"/archive/sessions/{corpus['hn_noise']}#t=1.0" in page
    async with http.get(url, params={"q": '"đất'}, headers=world.headers("admin")) as r:
        assert r.status == 400 and "Thiếu dấu ngoặc kép" in await r.text()
    monkeypatch.setattr(search_service, "MAX_COUNTED", 2)
    async with http.get(url, params={"q": "tôi OR đề OR ghi OR cong OR kiến", **WINDOW},
                        headers=world.headers("admin")) as r:  # fmt: skip
        page = await r.text()
        assert r.status == 200
    assert "Tìm thấy hơn 2 đoạn phát biểu." in page and "các đoạn mới nhất" in page
    assert page.count('class="hit"') == 2
    async with http.get(url, params={"q": "đất"}, headers=world.headers("officer")) as r:
        assert r.status == 403 and "lưu trữ" in await r.text()
    async with http.get(url, params={"q": "đất"}, allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"].startswith("/login?next=")


async def test_playback_page_lists_the_transcript(
    world: World, http: aiohttp.ClientSession, corpus: dict[str, int]
) -> None:
    async with http.get(f"{world.base_url}/archive/sessions/{corpus['nb_land']}",
                        headers=world.headers("archivist")) as r:  # fmt: skip
        page = await r.text()
        assert r.status == 200
    assert f'src="/api/v1/sessions/{corpus["nb_land"]}/media/{MIXED_AUDIO}"' in page
    assert page.count('class="utterance"') == 3 and 'data-start="9.5"' in page
    assert "Phạm Quang Ngọc" in page and "Chủ trì" in page
    async with world.db() as db:
        audited = await db.scalar(
            select(AuditEntry).where(AuditEntry.action == "transcript.view",
                                     AuditEntry.target == f"session:{corpus['nb_land']}")
        )  # fmt: skip
    assert audited is not None and audited.actor_user_id == world.users["archivist"]


async def test_cli_search(
    world: World, http: aiohttp.ClientSession, corpus: dict[str, int]
) -> None:
    env = {**os.environ, "TIEPDAN_DB__URL": world.settings.db.url}
    cli = Path(sys.executable).parent / "tiepdan"

    async def run(*args: str) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            str(cli), "search", *args, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await proc.communicate()
        return proc.returncode or 0, out.decode(), err.decode()

    rc, out, err = await run("da nang", "--as", world.usernames["admin"], "--from",
                             "2026-03-01", "--to", "2026-06-30")  # fmt: skip
    assert rc == 0, err
    assert out.startswith("1 kết quả") and "[Đà] [Nẵng]" in out and "Trần Thị Hoa" in out
    rc, out, err = await run(
        "thu hồi",
        "--as",
        world.usernames["archivist"],
        "--province",
        "ninh-binh",
        "--from",
        "2026-03-01",
        "--to",
        "2026-06-30",
        "--json",
    )
    assert rc == 0, err
    assert [h["session_id"] for h in json.loads(out)["hits"]] == [corpus["nb_land"]]
    rc, out, err = await run('"đất', "--as", world.usernames["admin"])
    assert rc == 1 and "Thiếu dấu ngoặc kép" in err
    rc, out, err = await run("đất", "--as", world.usernames["officer"])
    assert rc == 1 and "lưu trữ" in err


async def recorded(world: World, corpus: dict[str, int], key: str, spool: Path) -> int:
    """Give a corpus session a finished recording whose directory holds its transcript.json."""
    (session,) = [c for c in CORPUS if c.key == key]
    session_id = corpus[key]
    files = SessionSpool(spool)
    files.transcript(".json").write_text(to_json(transcript_of(session)), encoding="utf-8")
    async with world.db() as db:
        db.add(RecordingRequest(session_id=session_id, room_name=f"search-{session_id}",
                                manifest_path=str(files.manifest)))  # fmt: skip
        await db.commit()
    return session_id


@pytest.mark.usefixtures("worker_db")
async def test_index_job_reads_transcript_json_and_is_idempotent(
    world: World, corpus: dict[str, int], tmp_path: Path
) -> None:
    session_id = await recorded(world, corpus, "nb_land", tmp_path)
    for _ in range(2):
        count = await asyncio.to_thread(index_session_job, session_id)
        assert count == 3
    async with world.db() as db:
        rows = list(await db.scalars(
            select(TranscriptUtterance).where(TranscriptUtterance.session_id == session_id)
        ))  # fmt: skip
    # The classification given when it was first indexed is kept.
    assert len(rows) == 3 and {r.case_classification for r in rows} == {"khieu_nai"}


async def test_celery_worker_runs_the_index_step(
    world: World, corpus: dict[str, int], tmp_path: Path, unique_name: str
) -> None:
    """The pipeline's last task, by name, on a real ``tiepdan worker``."""
    session_id = await recorded(world, corpus, "commune_dyke", tmp_path)
    env = {
        **os.environ,
        "TIEPDAN_PATHS__STATE_DIR": str(world.settings.paths.state_dir),
        "TIEPDAN_DB__URL": world.settings.db.url,
        "TIEPDAN_BROKER__URL": world.settings.broker.url,
    }
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "tiepdan"), "worker", f"--queues={unique_name}",
         f"--hostname={unique_name}@%h"],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    app = create_celery(world.settings)
    try:
        result = app.send_task(TaskName.INDEX_SESSION.value, args=[session_id], queue=unique_name)
        count = await asyncio.to_thread(result.get, timeout=90)
    finally:
        app.close()
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
    assert count == 1
    status, body = await find_in(world, "đường đê")
    assert status == 200 and [h["session_id"] for h in body["hits"]] == [session_id]
    # The classification given at first indexing survived the re-index.
    assert body["hits"] and (await find_in(world, "đường đê", case="kien_nghi"))[1]["total"] == 1


async def find_in(world: World, q: str, **params: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http:
        return await find(http, world, "admin", q, **params)


NUMBER_LINES = (
    "Gia đình tôi yêu cầu bồi thường hai trăm triệu đồng.",
    "Khoản hỗ trợ 200.000.000 đồng đã được chi.",
    "Cơ quan trả lời trong 30 ngày kể từ ngày nhận đơn.",
    "Hồ sơ được giải quyết trong ba mươi ngày làm việc.",
    "Mười năm nay gia đình chưa được cấp giấy.",
)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def numbers_session(world: World) -> int:
    """A session of this module's own whose lines say amounts and durations in words and in
    digits (dated outside the corpus' window, so other tests' counts do not change)."""
    lines = tuple((i * 10.0, "Công dân", "citizen", "UBND xã", text)
                  for i, text in enumerate(NUMBER_LINES))  # fmt: skip
    entry = CorpusSession("numbers", "ninh-binh", SessionKind.PERIODIC,
                          datetime(2025, 11, 20, 1, 0, tzinfo=UTC), None, False, lines)  # fmt: skip
    async with world.db() as db:
        session = archived_session(entry, world.agencies)
        db.add(session)
        await db.flush()
        await index_transcript(db, session.id, transcript_of(entry))
        await db.commit()
        return session.id


@pytest.mark.parametrize(
    ("q", "lines"),
    [
        ("200 triệu", {0, 1}),
        ("hai trăm triệu", {0, 1}),
        ("hai tram trieu", {0, 1}),
        ("200.000.000", {0, 1}),
        ("30 ngày", {2, 3}),
        ("ba mươi ngày", {2, 3}),
        ('"trong ba mươi ngày"', {2, 3}),
        ("10 năm", {4}),
        ("khoản hỗ trợ", {1}),
    ],
)
async def test_numbers_are_found_in_words_or_in_digits(
    world: World, http: aiohttp.ClientSession, numbers_session: int, q: str, lines: set[int]
) -> None:
    params = {"from": "2025-11-01", "to": "2025-11-30", "session_id": str(numbers_session)}
    status, body = await find(http, world, "admin", q, **params)
    assert status == 200, body
    assert {round(h["start_s"] / 10) for h in body["hits"]} == lines
    assert all("<mark>" in h["snippet_html"] for h in body["hits"])


async def test_reindex_reads_old_rows_as_the_current_rules_do(
    world: World, http: aiohttp.ClientSession, numbers_session: int, tmp_path: Path
) -> None:
    """A session indexed before numbers were read (its rows hold the words alone) is found by
    "200 triệu" only once ``tiepdan sessions reindex`` has indexed it again."""
    files = SessionSpool(tmp_path)
    lines = tuple((i * 10.0, "Công dân", "citizen", "UBND xã", text)
                  for i, text in enumerate(NUMBER_LINES))  # fmt: skip
    entry = CorpusSession("numbers", "ninh-binh", SessionKind.PERIODIC,
                          datetime(2025, 11, 20, 1, 0, tzinfo=UTC), None, False, lines)  # fmt: skip
    files.transcript(".json").write_text(to_json(transcript_of(entry)), encoding="utf-8")
    async with world.db() as db:
        db.add(RecordingRequest(session_id=numbers_session, room_name=f"n-{numbers_session}",
                                manifest_path=str(files.manifest)))  # fmt: skip
        for row in await db.scalars(
            select(TranscriptUtterance).where(TranscriptUtterance.session_id == numbers_session)
        ):
            row.text_folded = " ".join(folded_tokens(row.text))  # as indexed before
        await db.commit()
    params = {"from": "2025-11-01", "to": "2025-11-30", "session_id": str(numbers_session)}
    _, before = await find(http, world, "admin", "200 triệu", **params)
    assert before["hits"] == []  # one line says it in words, the other as 200.000.000
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "tiepdan"), "sessions", "reindex", str(numbers_session),
        "999999", env={**os.environ, "TIEPDAN_DB__URL": world.settings.db.url},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert f"session {numbers_session}: 5 utterances" in out.decode()
    assert "session 999999: not indexed" in out.decode()
    _, after = await find(http, world, "admin", "200 triệu", **params)
    assert {round(h["start_s"] / 10) for h in after["hits"]} == {0, 1}


async def test_the_player_shows_the_words_the_model_was_unsure_of(
    world: World, http: aiohttp.ClientSession
) -> None:
    """Word probabilities from the transcript reach the player: the unsure word is dimmed, with
    its probability; the sure ones are plain text."""
    words = (Word(1.0, 1.3, "Bồi", 0.95), Word(1.3, 1.7, "thường", 0.91),
             Word(1.7, 2.0, "đất", 0.31), Word(2.0, 2.4, "<ruộng>", 0.12))  # fmt: skip
    said = Utterance(1.0, 2.4, Speaker("Công dân", "citizen", "UBND xã", "c1"),
                     "Bồi thường đất <ruộng>", words)  # fmt: skip
    entry = CorpusSession("unsure", "ninh-binh", SessionKind.PERIODIC,
                          datetime(2025, 10, 2, 1, 0, tzinfo=UTC), None, False, ())  # fmt: skip
    async with world.db() as db:
        session = archived_session(entry, world.agencies)
        db.add(session)
        await db.flush()
        await index_transcript(db, session.id, Transcript("vi", (said,)))
        await db.commit()
    async with http.get(f"{world.base_url}/archive/sessions/{session.id}",
                        headers=world.headers("archivist")) as r:  # fmt: skip
        page = await r.text()
        assert r.status == 200
    assert (
        'Bồi thường <span class="unsure" title="Máy nhận dạng không chắc chắn (31%)">đất</span> '
        '<span class="unsure" title="Máy nhận dạng không chắc chắn (12%)">&lt;ruộng&gt;</span>'
    ) in page
