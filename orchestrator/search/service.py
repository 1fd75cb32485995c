"""Archive search: the query and filters, the caller's scope, and the same answers from SQLite
FTS5 and PostgreSQL full-text search."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel
from sqlalchemy import (
    ColumnElement,
    TextClause,
    and_,
    func,
    literal_column,
    select,
    table,
    text,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator import sessions
from orchestrator.audit import audit
from orchestrator.auth import actor_of
from orchestrator.db.models import Province, ReceptionSession, TranscriptUtterance, User
from orchestrator.domain import Role, Tier
from orchestrator.errors import BadRequest, Forbidden
from orchestrator.permissions import Action, Actor, can
from orchestrator.search.folding import fold
from orchestrator.search.query import Query, QueryError, parse_query, to_fts5, to_tsquery
from orchestrator.search.snippets import highlight
from orchestrator.timezone import VN_TZ

__all__ = [
    "ArchiveScope",
    "ProvinceCount",
    "SearchFilters",
    "SearchHit",
    "SearchResult",
    "archive_scope",
    "search",
]

U = TranscriptUtterance
S = ReceptionSession
MAX_PER_PAGE = 100
SQLITE_CACHE_KIB = 256 * 1024
SQLITE_MMAP_BYTES = 4 * 1024**3
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class SearchFilters:
    """What narrows a search besides its words. ``None`` is "any"."""

    province: str | None = None
    agency_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    kind: str | None = None
    role: str | None = None
    speaker: str | None = None
    case_classification: str | None = None
    session_id: int | None = None


@dataclass(frozen=True)
class ArchiveScope:
    """The part of the archive a user may search.

    Attributes:
        province_code: only this province (``None``: any).
        agency_id: only this office (``None``: any).
        restricted_visible: whether restricted (denunciation) sessions exist for this user.
    """

    province_code: str | None
    agency_id: int | None
    restricted_visible: bool


def archive_scope(actor: Actor) -> ArchiveScope:
    """The scope :func:`orchestrator.permissions.can` grants for searching, as filters.

    Raises:
        Forbidden: the user may not search the archive at all.
    """
    if not can(actor, Action.SEARCH_ARCHIVE):
        raise Forbidden("Chỉ cán bộ lưu trữ và quản trị viên được tìm kiếm kho lưu trữ.")
    if actor.role is Role.ADMIN or actor.tier is Tier.CENTRAL:
        return ArchiveScope(None, None, actor.cleared)
    if actor.tier is Tier.PROVINCE:
        return ArchiveScope(actor.province_code or "", None, actor.cleared)
    return ArchiveScope(None, actor.agency_id, actor.cleared)


class SearchHit(BaseModel):
    """One matching utterance."""

    session_id: int
    session_title: str
    session_start: datetime
    province_code: str
    agency_id: int
    utterance_id: int
    start_s: float
    end_s: float
    speaker_name: str
    speaker_role: str
    connection_point: str
    snippet_html: str
    playback_url: str


class ProvinceCount(BaseModel):
    """How many matches one province has (within the caller's scope)."""

    province_code: str
    province_name: str
    count: int


class SearchResult(BaseModel):
    """One page of results, the total, and the counts per province."""

    query: str
    exact: bool
    sort: str
    page: int
    per_page: int
    total: int
    hits: list[SearchHit]
    provinces: list[ProvinceCount]


def _conditions(scope: ArchiveScope, filters: SearchFilters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if not scope.restricted_visible:
        where.append(S.restricted.is_(False))
    if scope.province_code is not None:
        where.append(U.province_code == scope.province_code)
    if scope.agency_id is not None:
        where.append(U.agency_id == scope.agency_id)
    f = filters
    if f.province:
        where.append(U.province_code == f.province)
    if f.agency_id is not None:
        where.append(U.agency_id == f.agency_id)
    if f.date_from:
        where.append(U.session_start >= datetime.combine(f.date_from, time(), VN_TZ))
    if f.date_to:
        end = datetime.combine(f.date_to + timedelta(days=1), time(), VN_TZ)
        where.append(U.session_start < end)
    if f.kind:
        where.append(U.session_kind == f.kind)
    if f.role:
        where.append(U.speaker_role == f.role)
    if f.speaker:
        pattern = "%" + fold(f.speaker).replace("\\", "").replace("%", "").replace("_", "") + "%"
        where.append(U.speaker_folded.like(pattern))
    if f.case_classification:
        where.append(U.case_classification == f.case_classification)
    if f.session_id is not None:
        where.append(U.session_id == f.session_id)
    return where


def _match(
    dialect: str, query: Query, ranked: bool
) -> tuple[Any, ColumnElement[bool] | TextClause | None, Any]:
    """FROM clause, WHERE condition, and relevance ORDER BY expression for this backend."""
    if dialect == "sqlite":
        # The full-text match runs first, once (a materialized CTE): otherwise SQLite's planner may
        # walk a filter's index and probe FTS5 row by row, hundreds of times slower.
        columns: list[Any] = [literal_column("rowid").label("rowid")]
        if ranked:
            columns.append(literal_column("rank").label("rank"))
        hits = (
            select(*columns).select_from(table("transcript_fts"))
            .where(text("transcript_fts MATCH :fts_query").bindparams(fts_query=to_fts5(query)))
            .cte("fts_hits").prefix_with("MATERIALIZED")
        )  # fmt: skip
        from_ = hits.join(U, U.id == hits.c.rowid).join(S, S.id == U.session_id)
        return from_, None, hits.c.rank.asc() if ranked else None
    tsv = "tsv_exact" if query.exact else "tsv_folded"
    tsq = func.to_tsquery(literal_column("'simple'"), to_tsquery(query))
    vector: ColumnElement[Any] = literal_column(f"transcript_utterances.{tsv}")
    joined = U.__table__.join(S.__table__, S.id == U.session_id)
    return joined, vector.op("@@")(tsq), func.ts_rank(vector, tsq).desc()


def _playback_url(session_id: int, start_s: float) -> str:
    return f"/archive/sessions/{session_id}#t={start_s:.1f}"


async def search(
    db: AsyncSession,
    user: User,
    text_query: str,
    filters: SearchFilters = SearchFilters(),  # noqa: B008 - frozen, never mutated
    *,
    exact: bool = False,
    sort: Literal["relevance", "date"] = "relevance",
    page: int = 1,
    per_page: int = 20,
    request: web.Request | None = None,
) -> SearchResult:
    """Search the archive as ``user``; the search is audited (in ``db``'s transaction, committed
    here) whatever its outcome.

    Raises:
        BadRequest: a query or a paging value that cannot be searched (Vietnamese message).
        Forbidden: the user may not search the archive.
    """
    # Control characters (NUL included, which PostgreSQL's JSON refuses) only separate words.
    text_query = _CONTROL.sub(" ", text_query)
    actor = actor_of(user)
    detail: dict[str, Any] = {
        "query": text_query[:500],
        "filters": {k: str(v) for k, v in asdict(filters).items() if v is not None},
        "exact": exact,
    }
    try:
        scope = archive_scope(actor)
        if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
            raise BadRequest(f"Trang phải từ 1, mỗi trang từ 1 đến {MAX_PER_PAGE} kết quả.")
        try:
            query = parse_query(text_query, exact=exact)
        except QueryError as e:
            raise BadRequest(str(e)) from e
    except (BadRequest, Forbidden) as e:
        outcome = "denied" if isinstance(e, Forbidden) else "failed"
        _audit(db, user, outcome, request, detail, reason=e.detail)
        await db.commit()
        raise
    dialect = db.get_bind().dialect.name
    if dialect == "sqlite":
        # The index is read in large runs: SQLite's 2 MB default page cache thrashes on it.
        await db.execute(text(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}"))
        await db.execute(text(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}"))
    conditions = _conditions(scope, filters)
    from_, match, rank = _match(dialect, query, ranked=sort == "relevance")
    where = and_(true(), *conditions, *([match] if match is not None else []))
    order: list[Any] = (
        [rank, U.session_start.desc(), U.id]
        if sort == "relevance"
        else [U.session_start.desc(), U.session_id.desc(), U.start_s, U.id]
    )
    # Sort narrow rows (id, title), then read the page's whole rows: the text stays out of the sort.
    page_q = (
        select(U.id, S.title).select_from(from_).where(where).order_by(*order)
        .limit(per_page).offset((page - 1) * per_page)
    )  # fmt: skip
    titles: dict[int, str] = dict((await db.execute(page_q)).all())
    by_id = {u.id: u for u in await db.scalars(select(U).where(U.id.in_(list(titles))))}
    rows = [(by_id[i], title) for i, title in titles.items()]
    # Every indexed row has a province, so the counts per province add up to the total.
    from_, match, _rank = _match(dialect, query, ranked=False)
    where = and_(true(), *conditions, *([match] if match is not None else []))
    counts_q = (
        select(U.province_code, Province.name, func.count())
        .select_from(from_.join(Province.__table__, Province.code == U.province_code))
        .where(where).group_by(U.province_code, Province.name)
        .order_by(func.count().desc(), U.province_code)
    )  # fmt: skip
    counts = (await db.execute(counts_q)).all()
    total = sum(count for _code, _name, count in counts)
    hits = [
        SearchHit(
            session_id=u.session_id,
            session_title=title,
            session_start=u.session_start,
            province_code=u.province_code,
            agency_id=u.agency_id,
            utterance_id=u.id,
            start_s=u.start_s,
            end_s=u.end_s,
            speaker_name=u.speaker_name,
            speaker_role=u.speaker_role,
            connection_point=u.connection_point,
            snippet_html=highlight(u.text, query),
            playback_url=_playback_url(u.session_id, u.start_s),
        )  # fmt: skip
        for u, title in rows
    ]
    _audit(db, user, "allowed", request, detail, results=total)
    await db.commit()
    return SearchResult(
        query=text_query, exact=exact, sort=sort, page=page, per_page=per_page, total=total,
        hits=hits, provinces=[ProvinceCount(province_code=c, province_name=n, count=k)
                              for c, n, k in counts],
    )  # fmt: skip


def _audit(
    db: AsyncSession, user: User, outcome: str, request: web.Request | None,
    detail: dict[str, Any], **extra: Any,
) -> None:  # fmt: skip
    audit(db, action="archive.search", target="archive", outcome=outcome, user=user,
          request=request, **detail, **extra)  # fmt: skip


async def session_transcript(
    db: AsyncSession, user: User, session_id: int, request: web.Request | None = None
) -> tuple[ReceptionSession, list[TranscriptUtterance]]:
    """A session's indexed utterances for its playback page; the access is audited.

    Raises:
        NotFound: no such session, or one the user may not play (restricted ones are not
            revealed).
    """
    session = await sessions.get_session(db, actor_of(user), session_id, Action.PLAY_RECORDING)
    rows = list(
        await db.scalars(select(U).where(U.session_id == session_id).order_by(U.start_s, U.seq))
    )
    audit(db, action="transcript.view", target=f"session:{session_id}", user=user,
          request=request, utterances=len(rows))  # fmt: skip
    await db.commit()
    return session, rows
