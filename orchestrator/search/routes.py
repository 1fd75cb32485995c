"""The archive's HTTP side: ``GET /api/v1/search``, the search page and the playback page."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote, urlencode

from aiohttp import web
from sqlalchemy import select

from orchestrator.core.errors import OrchestratorError
from orchestrator.core.labels import PARTICIPANTS, SESSION_KINDS
from orchestrator.core.timezone import format_local
from orchestrator.db.incidents import recorded_incidents
from orchestrator.db.models import Agency, Province, User
from orchestrator.observability.instruments import SEARCH_SECONDS
from orchestrator.search.indexer import CASE_CLASSIFICATIONS
from orchestrator.search.schemas import SearchQuery
from orchestrator.search.service import (
    SearchFilters,
    SearchResult,
    search,
    session_transcript,
)
from orchestrator.search.snippets import with_unsure_words
from orchestrator.web.api import Route, parse_query, reply, user_of
from orchestrator.web.app_keys import DB, USER
from orchestrator.web.html import error_page, html_page
from orchestrator.web.router import Page
from storage.spool import MINUTES, MIXED_AUDIO, transcript_name

__all__ = ["PAGES", "ROUTES"]


def parse_filters(query: SearchQuery) -> SearchFilters:
    """The filters of a search's query string."""
    return SearchFilters(
        province=query.province, agency_id=query.agency_id, date_from=query.date_from,
        date_to=query.date_to, kind=query.kind, role=query.role, speaker=query.speaker,
        case_classification=query.case, session_id=query.session_id,
    )  # fmt: skip


async def _run(request: web.Request, user: User, params: Mapping[str, str]) -> SearchResult:
    query = parse_query(params, SearchQuery)
    with SEARCH_SECONDS.time():
        async with request.app[DB]() as db:
            return await search(
                db, user, query.q, parse_filters(query), exact=query.exact, sort=query.sort,
                page=query.page, per_page=query.per_page, remote=request.remote,
            )  # fmt: skip


async def search_api(request: web.Request) -> web.Response:
    """``GET /api/v1/search?q=...``: one page of hits, the total and the counts per province."""
    return reply(await _run(request, user_of(request), request.query))


ROUTES = [
    Route("GET", "/search", search_api, "Search transcripts: one page of hits, the total, the "
          "counts per province", query=SearchQuery, response=SearchResult),
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
            # The form sends every field; one left empty is no filter.
            filled = {name: value for name, value in request.query.items() if value.strip()}
            result = await _run(request, user, filled)
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
        incidents = await recorded_incidents(db, session_id)
    return html_page(
        "archive_player.html", session=session, utterances=utterances, user=user,
        roles=PARTICIPANTS, incidents=incidents,
        media=f"/api/v1/sessions/{session.id}/media", mixed=MIXED_AUDIO, minutes=MINUTES,
        transcript_text=transcript_name(".txt"), starts=format_local(session.starts_at),
        with_unsure_words=with_unsure_words,
    )  # fmt: skip


PAGES = [
    Page("GET", "/archive/search", search_page),
    Page("GET", "/archive/sessions/{id}", player_page),
]
