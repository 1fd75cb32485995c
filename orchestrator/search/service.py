"""Archive search: the query and filters, the caller's scope, and the same answers from SQLite
FTS5 and PostgreSQL full-text search, reading at most the newest matches
(:mod:`orchestrator.search.keys`)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import ColumnElement, func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.core.errors import BadRequest, Forbidden
from orchestrator.core.permissions import Action, Actor, can
from orchestrator.core.vocabulary import Role, Tier
from orchestrator.db.audit import actor_of, audit
from orchestrator.db.models import Province, ReceptionSession, TranscriptUtterance, User
from orchestrator.scheduling import service as sessions
from orchestrator.search.folding import folded_tokens
from orchestrator.search.keys import (
    MAX_COUNTED,
    RESTRICTED,
    KeyRangeError,
    date_key_range,
    facet,
    province_counts,
)
from orchestrator.search.query import (
    MAX_TERMS,
    Query,
    QueryError,
    parse_query,
    to_fts5,
    to_tsquery,
)
from orchestrator.search.ranking import RANKED, scores
from orchestrator.search.snippets import highlight

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
    """The scope :func:`orchestrator.core.permissions.can` grants for searching, as filters.

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
    """One page of results, the total, and the counts per province.

    ``capped``: more than ``total`` (= :data:`MAX_COUNTED`) utterances match; the counts per
    province are then those of the newest :data:`MAX_COUNTED`.
    """

    query: str
    exact: bool
    sort: str
    page: int
    per_page: int
    total: int
    capped: bool
    hits: list[SearchHit]
    provinces: list[ProvinceCount]

    def total_text(self) -> str:
        """The total as people read it: ``7``, ``1.234``, or ``hơn 10.000``."""
        return ("hơn " if self.capped else "") + _vn_number(self.total)


def _vn_number(n: int) -> str:
    """``10000`` as Vietnamese writes it: ``10.000``."""
    return f"{n:,}".replace(",", ".")


def _filters(scope: ArchiveScope, filters: SearchFilters) -> list[tuple[str, Any, str | int]]:
    """The scope and the equality filters that are set: ``(facet kind, column, value)``."""
    return [
        (kind, column, value) for kind, column, value in (
            ("p", U.province_code, scope.province_code), ("a", U.agency_id, scope.agency_id),
            ("p", U.province_code, filters.province), ("a", U.agency_id, filters.agency_id),
            ("k", U.session_kind, filters.kind), ("r", U.speaker_role, filters.role),
            ("c", U.case_classification, filters.case_classification),
            ("s", U.session_id, filters.session_id),
        ) if value is not None
    ]  # fmt: skip


def _conditions(
    scope: ArchiveScope, filters: SearchFilters, keys: tuple[int, int] | None
) -> list[ColumnElement[bool]]:
    """The scope and filters as column conditions (PostgreSQL)."""
    where: list[ColumnElement[bool]] = [
        column == value for _kind, column, value in _filters(scope, filters)
    ]
    if not scope.restricted_visible:
        where.append(U.restricted.is_(False))
    for token in _speaker_tokens(filters):
        where.append(U.speaker_folded.regexp_match(rf"\m{token}"))
    if keys is not None:
        where += [U.search_key >= keys[0], U.search_key < keys[1]]
    return where


def _facets(scope: ArchiveScope, filters: SearchFilters) -> list[str]:
    """The scope and filters as FTS5 facet words (SQLite); checks every value for both backends.

    Raises:
        BadRequest: a filter value that no indexed session can have.
    """
    words = []
    for kind, _column, value in _filters(scope, filters):
        try:
            words.append(facet(kind, value))
        except KeyRangeError as e:
            raise BadRequest(f"Giá trị lọc không hợp lệ: {value!r}.") from e
    return words


def _speaker_tokens(filters: SearchFilters) -> list[str]:
    """The speaker filter's words: each must begin a word of the speaker's name."""
    return folded_tokens(filters.speaker)[:MAX_TERMS] if filters.speaker else []


def _fts5_match(
    query: Query, scope: ArchiveScope, filters: SearchFilters, facets: list[str]
) -> str:
    parts = [f"({to_fts5(query)})"]
    parts += [f'facets : "{word}"' for word in facets]
    parts += [f'speaker_folded : "{token}"*' for token in _speaker_tokens(filters)]
    match = " AND ".join(parts)
    return match if scope.restricted_visible else f'({match}) NOT facets : "{RESTRICTED}"'


async def _candidates(
    db: AsyncSession, query: Query, scope: ArchiveScope, filters: SearchFilters,
    facets: list[str],
) -> list[int]:  # fmt: skip
    """Search keys of the newest :data:`MAX_COUNTED` + 1 matches, by date (on SQLite read from
    the full-text index alone, ``facets`` being the filters as its words)."""
    keys = date_key_range(filters.date_from, filters.date_to)
    limit = MAX_COUNTED + 1
    if db.get_bind().dialect.name == "sqlite":
        key_range = "AND rowid >= :low AND rowid <= :high" if keys else ""
        sql = (
            "SELECT rowid FROM transcript_fts WHERE transcript_fts MATCH :match "
            f"{key_range} ORDER BY rowid LIMIT :limit"
        )
        match = _fts5_match(query, scope, filters, facets)
        params: dict[str, Any] = {"match": match, "limit": limit}
        if keys:
            params |= {"low": keys[0], "high": keys[1] - 1}
        # Straight from the driver: SQLAlchemy's rows would cost more than the search itself.
        driver = (await (await db.connection()).get_raw_connection()).driver_connection
        assert driver is not None  # a checked-out aiosqlite connection
        rows = await driver.execute_fetchall(sql, params)
        return [key for (key,) in rows]
    vector: ColumnElement[Any] = literal_column("tsv_exact" if query.exact else "tsv_folded")
    tsq = func.to_tsquery(literal_column("'simple'"), to_tsquery(query))
    stmt = (
        select(U.search_key)
        .where(vector.op("@@")(tsq), *_conditions(scope, filters, keys))
        .order_by(U.search_key).limit(limit)
    )  # fmt: skip
    return list((await db.scalars(stmt)).all())


async def _by_relevance(db: AsyncSession, query: Query, keys: list[int]) -> list[int]:
    """``keys`` (by date) with the newest :data:`RANKED` ordered by relevance, ties and the
    older ones by date."""
    pool = keys[:RANKED]
    column = U.text_exact if query.exact else U.text_folded
    rows = await db.execute(select(U.search_key, column).where(U.search_key.in_(pool)))
    texts = dict(rows.all())
    score = dict(zip(pool, scores(query, [texts[key] for key in pool]), strict=True))
    return sorted(pool, key=lambda key: (-score[key], key)) + keys[RANKED:]


def _playback_url(session_id: int, start_s: float) -> str:
    return f"/archive/sessions/{session_id}#t={start_s:.1f}"


async def _province_counts(db: AsyncSession, keys: list[int]) -> list[ProvinceCount]:
    provinces = await db.execute(select(Province.gso_code, Province.code, Province.name))
    names = {gso: (code, name) for gso, code, name in provinces.all()}
    counts = [
        ProvinceCount(province_code=names[gso][0], province_name=names[gso][1], count=count)
        for gso, count in province_counts(keys).items()
    ]
    return sorted(counts, key=lambda c: (-c.count, c.province_code))


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
    remote: str | None = None,
) -> SearchResult:
    """Search the archive as ``user``; the search is audited (in ``db``'s transaction, committed
    here) whatever its outcome.

    At most the newest :data:`MAX_COUNTED` matches are read: beyond that the result says
    ``capped`` and the counts per province are those of the newest :data:`MAX_COUNTED`. The
    relevance order ranks the newest :data:`~orchestrator.search.ranking.RANKED`; older matches
    follow by date. So a search costs the same on any size of archive.

    Raises:
        BadRequest: a query, a filter or a paging value that cannot be searched (Vietnamese
            message).
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
        if (page - 1) * per_page >= MAX_COUNTED:
            raise BadRequest(
                f"Chỉ xem được {_vn_number(MAX_COUNTED)} kết quả mới nhất; hãy thêm từ hoặc bộ "
                "lọc để thu hẹp tìm kiếm."
            )
        try:
            query = parse_query(text_query, exact=exact)
        except QueryError as e:
            raise BadRequest(str(e)) from e
        facets = _facets(scope, filters)
    except (BadRequest, Forbidden) as e:
        outcome = "denied" if isinstance(e, Forbidden) else "failed"
        _audit(db, user, outcome, remote, detail, reason=e.detail)
        await db.commit()
        raise
    if db.get_bind().dialect.name == "sqlite":
        # The index is read in large runs: SQLite's 2 MB default page cache thrashes on it.
        await db.execute(text(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}"))
        await db.execute(text(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}"))
    candidates = await _candidates(db, query, scope, filters, facets)
    capped = len(candidates) > MAX_COUNTED
    candidates = candidates[:MAX_COUNTED]
    # Keys ascending are by date: newest session first, in the order spoken.
    ordered = await _by_relevance(db, query, candidates) if sort == "relevance" else candidates
    page_keys = ordered[(page - 1) * per_page :][:per_page]
    found = {u.search_key: (u, title) for u, title in (await db.execute(
        select(U, S.title).join(S, S.id == U.session_id).where(U.search_key.in_(page_keys))
    )).all()}  # fmt: skip
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
        for u, title in (found[key] for key in page_keys)
    ]
    total = len(candidates)
    _audit(db, user, "allowed", remote, detail, results=total, capped=capped)
    provinces = await _province_counts(db, candidates)
    await db.commit()
    return SearchResult(
        query=text_query, exact=exact, sort=sort, page=page, per_page=per_page, total=total,
        capped=capped, hits=hits, provinces=provinces,
    )  # fmt: skip


def _audit(
    db: AsyncSession, user: User, outcome: str, remote: str | None,
    detail: dict[str, Any], **extra: Any,
) -> None:  # fmt: skip
    audit(db, action="archive.search", target="archive", outcome=outcome, user=user,
          remote=remote, **detail, **extra)  # fmt: skip


async def session_transcript(
    db: AsyncSession, user: User, session_id: int, remote: str | None = None
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
          remote=remote, utterances=len(rows))  # fmt: skip
    await db.commit()
    return session, rows
