"""The archive's HTTP side: ``GET /api/v1/search``, the search page and the playback page."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Literal, cast
from urllib.parse import quote, urlencode

from aiohttp import web
from sqlalchemy import select

from orchestrator.core.errors import BadRequest, OrchestratorError
from orchestrator.core.labels import PARTICIPANTS, SESSION_KINDS
from orchestrator.core.timezone import format_local
from orchestrator.db.models import Agency, Province, User
from orchestrator.observability.instruments import SEARCH_SECONDS
from orchestrator.search.indexer import CASE_CLASSIFICATIONS
from orchestrator.search.service import (
    SearchFilters,
    SearchResult,
    search,
    session_transcript,
)
from orchestrator.search.snippets import with_unsure_words
from orchestrator.web.api import Route, reply, user_of
from orchestrator.web.app_keys import DB, USER
from orchestrator.web.html import error_page, html_page
from orchestrator.web.router import Page
from storage.spool import MINUTES, MIXED_AUDIO, transcript_name

__all__ = ["PAGES", "ROUTES"]


def _date(params: dict[str, str], name: str) -> date | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as e:
        raise BadRequest(f"Ngày {name} không hợp lệ: {value!r} (cần dạng 2026-07-01).") from e


def _int(params: dict[str, str], name: str, default: int | None) -> int | None:
    value = params.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError as e:
        raise BadRequest(f"Tham số {name} phải là số: {value!r}.") from e


def _choice(params: dict[str, str], name: str, allowed: Collection[str]) -> str | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    if value not in allowed:
        raise BadRequest(f"Giá trị {name} không hợp lệ: {value!r}.")
    return value


def parse_filters(params: dict[str, str]) -> SearchFilters:
    """Filters from query-string parameters (``province``, ``agency_id``, ``from``, ``to``,
    ``kind``, ``role``, ``speaker``, ``case``, ``session_id``).

    Raises:
        BadRequest: a malformed value.
    """
    date_from, date_to = _date(params, "from"), _date(params, "to")
    if date_from and date_to and date_from > date_to:
        raise BadRequest("Ngày bắt đầu (from) phải trước ngày kết thúc (to).")
    return SearchFilters(
        province=params.get("province", "").strip() or None,
        agency_id=_int(params, "agency_id", None),
        date_from=date_from,
        date_to=date_to,
        kind=_choice(params, "kind", SESSION_KINDS),
        role=params.get("role", "").strip()[:32] or None,
        speaker=params.get("speaker", "").strip()[:200] or None,
        case_classification=_choice(params, "case", CASE_CLASSIFICATIONS),
        session_id=_int(params, "session_id", None),
    )


async def _run(request: web.Request, user: User) -> SearchResult:
    params = dict(request.query)
    text = params.get("q", "")
    filters = parse_filters(params)
    sort = _choice(params, "sort", {"relevance", "date"}) or "relevance"
    page = _int(params, "page", None)
    per_page = _int(params, "per_page", None)
    with SEARCH_SECONDS.time():
        async with request.app[DB]() as db:
            return await search(
                db, user, text, filters, exact=params.get("exact", "") in ("1", "true", "on"),
                sort=cast(Literal["relevance", "date"], sort), page=1 if page is None else page,
                per_page=20 if per_page is None else per_page,
                remote=request.remote,
            )  # fmt: skip


async def search_api(request: web.Request) -> web.Response:
    """``GET /api/v1/search?q=...``: one page of hits, the total and the counts per province."""
    return reply(await _run(request, user_of(request)))


ROUTES = [
    Route("GET", "/search", search_api,
          "Search transcripts (q, exact, province, agency_id, from, to, kind, role, speaker, "
          "case, session_id, sort=relevance|date, page, per_page)", response=SearchResult),
]  # fmt: skip


def _signed_in(request: web.Request) -> User:
    user: User | None = request[USER]
    if user is None:
        raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs)}")
    return user


async def search_page(request: web.Request) -> web.Response:
    """The Vietnamese search page (server-rendered; no script needed)."""
    user = _signed_in(request)
    result, message = None, ""
    if request.query.get("q", "").strip():
        try:
            result = await _run(request, user)
        except OrchestratorError as e:
            if e.status == 403:
                return error_page(403, "Không có quyền", e.detail)
            message = e.detail
    async with request.app[DB]() as db:
        provinces = (await db.execute(select(Province.code, Province.name)
                                      .order_by(Province.name))).all()  # fmt: skip
        agencies = (await db.execute(select(Agency.id, Agency.name).order_by(Agency.name))).all()
    params = dict(request.query)

    def page_url(page: int) -> str:
        return "/archive/search?" + urlencode({**params, "page": str(page)})

    return html_page(
        "archive_search.html", 400 if message else 200, user=user, params=params,
        result=result, message=message, provinces=provinces,
        agencies=agencies, kinds=SESSION_KINDS, roles=PARTICIPANTS, cases=CASE_CLASSIFICATIONS,
        page_url=page_url, format_local=format_local,
    )  # fmt: skip


async def player_page(request: web.Request) -> web.Response:
    """The Vietnamese playback page: mixed audio, the transcript beside it, ``#t=`` deep links."""
    user = _signed_in(request)
    try:
        session_id = int(request.match_info["id"])
    except ValueError:
        return error_page(404, "Không tìm thấy phiên", "Không tìm thấy phiên tiếp này.")
    async with request.app[DB]() as db:
        try:
            session, utterances = await session_transcript(db, user, session_id, request.remote)
        except OrchestratorError:
            return error_page(404, "Không tìm thấy phiên", "Không tìm thấy phiên tiếp này.")
    return html_page(
        "archive_player.html", session=session, utterances=utterances, user=user,
        roles=PARTICIPANTS,
        media=f"/api/v1/sessions/{session.id}/media", mixed=MIXED_AUDIO, minutes=MINUTES,
        transcript_text=transcript_name(".txt"), starts=format_local(session.starts_at),
        with_unsure_words=with_unsure_words,
    )  # fmt: skip


PAGES = [
    Page("GET", "/archive/search", search_page),
    Page("GET", "/archive/sessions/{id}", player_page),
]
