"""Reception sessions: create (one or a series), list what a user may see, update, cancel."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.core.errors import Forbidden, NotFound, Unprocessable
from orchestrator.core.lifecycle import move
from orchestrator.core.permissions import Action, Actor, SessionScope, can
from orchestrator.core.vocabulary import SessionStatus
from orchestrator.db.locking import locked_session
from orchestrator.db.models import (
    Agency,
    ConnectionPoint,
    Invitation,
    ReceptionSession,
    SessionSeries,
    User,
)
from orchestrator.scheduling.expansion import Expansion, expand_off_loop
from orchestrator.scheduling.recurrence import (
    Occurrence,
    Recurrence,
    RecurrenceError,
    validate_rrule,
)
from orchestrator.scheduling.schemas import SessionCreate, SessionOut, SessionUpdate

# Occurrences of a series are created this far ahead; later ones when the series is extended.
SERIES_HORIZON = timedelta(days=366)


def scope_of(session: ReceptionSession) -> SessionScope:
    """The permission resource of a session."""
    province = session.agency.province_code
    return SessionScope(
        agency_id=session.agency_id,
        province_code=None if province == "tw" else province,
        restricted=session.restricted,
    )


def to_out(session: ReceptionSession) -> SessionOut:
    """The API view of a session."""
    return SessionOut.model_validate(
        {
            **{c: getattr(session, c) for c in SessionOut.model_fields if hasattr(session, c)},
            "province_code": session.agency.province_code,
            "connection_points": [
                {"id": p.id, "name": p.name, "tier": p.tier, "agency_id": p.agency_id}
                for p in session.connection_points
            ],
        }
    )


async def _agency(db: AsyncSession, agency_id: int) -> Agency:
    agency = await db.get(Agency, agency_id)
    if agency is None:
        raise Unprocessable(f"Không có cơ quan tiếp công dân mã {agency_id}.")
    return agency


async def _check_chair(db: AsyncSession, chair_id: int | None) -> None:
    if chair_id is not None and await db.get(User, chair_id) is None:
        raise Unprocessable(f"Không có người chủ trì mã {chair_id}.")


async def creatable_agency(
    db: AsyncSession, actor: Actor, agency_id: int, restricted: bool
) -> Agency:
    """The agency the actor is creating sessions for.

    Raises:
        Unprocessable: no such agency.
        Forbidden: the actor may not create sessions for it.
    """
    agency = await _agency(db, agency_id)
    province = None if agency.province_code == "tw" else agency.province_code
    if not can(actor, Action.CREATE_SESSION, SessionScope(agency.id, province, restricted)):
        raise Forbidden("Bạn không có quyền tạo phiên tiếp cho cơ quan này.")
    return agency


async def create_sessions(
    db: AsyncSession, actor: Actor, body: SessionCreate, expansion_timeout_s: float
) -> list[ReceptionSession]:
    """Create a session, or one per occurrence of ``body.rrule`` within a year.

    Raises:
        Forbidden: the actor may not create sessions for that agency.
        Unprocessable: unknown agency (the session's or a connection point's) or chair, or a
            recurrence rule that is invalid, has no occurrence within a year, or takes longer
            than ``expansion_timeout_s`` to expand.
    """
    recurrence = None
    if body.rrule:
        recurrence = Recurrence(_valid_rule(body.rrule), tuple(body.exdates))
    agency = await creatable_agency(db, actor, body.agency_id, body.restricted)
    await _check_chair(db, body.chair_id)
    for point in body.connection_points:
        if point.agency_id is not None:
            await _agency(db, point.agency_id)
    series = None
    starts = [body.starts_at.astimezone(UTC)]
    if recurrence is not None:
        (occurrences,) = await series_occurrences(
            [(body.starts_at, body.ends_at - body.starts_at, recurrence)], expansion_timeout_s
        )
        series = new_series(recurrence)
        db.add(series)
        starts = [o.start for o in occurrences]
    created = [new_session(actor, agency, body, start, series) for start in starts]
    db.add_all(created)
    await db.flush()
    return created


def _valid_rule(text: str) -> str:
    try:
        return validate_rrule(text)
    except RecurrenceError as e:
        raise Unprocessable(str(e)) from e


async def series_occurrences(
    series: Sequence[tuple[datetime, timedelta, Recurrence]], timeout_s: float
) -> list[list[Occurrence]]:
    """The occurrences of each ``(first start, duration, recurrence)`` within
    :data:`SERIES_HORIZON` of its first start, expanded off the event loop.

    Raises:
        Unprocessable: a rule is invalid, yields nothing within the horizon, or takes longer
            than ``timeout_s`` to expand.
    """
    try:
        expanded = await expand_off_loop(
            [Expansion(first, length, rule, first, first + SERIES_HORIZON)
             for first, length, rule in series],
            timeout_s,
        )  # fmt: skip
    except RecurrenceError as e:
        raise Unprocessable(str(e)) from e
    for (_, _, rule), occurrences in zip(series, expanded, strict=True):
        if not occurrences:
            raise Unprocessable(
                f"Quy tắc lặp lại {rule.rrule} không sinh ra phiên nào trong một năm tới."
            )
    return expanded


def new_series(recurrence: Recurrence) -> SessionSeries:
    """The series row of a recurrence, its EXDATEs in UTC."""
    return SessionSeries(
        rrule=recurrence.rrule,
        exdates=[d.astimezone(UTC).isoformat() for d in recurrence.exdates],
    )


def new_session(
    actor: Actor,
    agency: Agency,
    body: SessionCreate,
    start: datetime,
    series: SessionSeries | None,
    ical_uid: str | None = None,
) -> ReceptionSession:
    """A scheduled session from ``body``, starting at ``start`` (one occurrence of a series)."""
    return ReceptionSession(
        title=body.title,
        kind=body.kind,
        agency=agency,
        chair_id=body.chair_id,
        starts_at=start.astimezone(UTC),
        ends_at=start.astimezone(UTC) + (body.ends_at - body.starts_at),
        status=SessionStatus.SCHEDULED,
        restricted=body.restricted,
        approval_ref=body.approval_ref,
        language=body.language,
        series=series,
        sequence=0,
        created_by=actor.user_id,
        ical_uid=ical_uid,
        connection_points=[
            ConnectionPoint(name=p.name, tier=p.tier, agency_id=p.agency_id)
            for p in body.connection_points
        ],
    )


def visible_sessions_query() -> Select[ReceptionSession]:
    """All sessions, soonest first; callers filter with :func:`can`."""
    return select(ReceptionSession).order_by(ReceptionSession.starts_at, ReceptionSession.id)


def user_sessions_query(user: User) -> Select[ReceptionSession]:
    """A user's own sessions, soonest first: their office's, those they chair, those they are
    invited to (their calendar feed and start page); callers still filter with :func:`can`."""
    invited = select(Invitation.session_id).where(Invitation.user_id == user.id)
    return visible_sessions_query().where(
        or_(
            ReceptionSession.agency_id == user.agency_id,
            ReceptionSession.chair_id == user.id,
            ReceptionSession.id.in_(invited),
        )
    )


async def list_sessions(
    db: AsyncSession,
    actor: Actor,
    *,
    status: SessionStatus | None = None,
    start_from: datetime | None = None,
    start_to: datetime | None = None,
    limit: int = 200,
) -> Sequence[ReceptionSession]:
    """Sessions the actor may view, filtered; restricted ones only for cleared users."""
    query = visible_sessions_query()
    if status is not None:
        query = query.where(ReceptionSession.status == status)
    if start_from is not None:
        query = query.where(ReceptionSession.starts_at >= start_from)
    if start_to is not None:
        query = query.where(ReceptionSession.starts_at < start_to)
    rows = (await db.scalars(query)).all()
    return [s for s in rows if can(actor, Action.VIEW_SESSION, scope_of(s))][:limit]


async def get_session(
    db: AsyncSession,
    actor: Actor,
    session_id: int,
    action: Action = Action.VIEW_SESSION,
    *,
    missing: str | None = None,
) -> ReceptionSession:
    """A session the actor may act on: the one rule by which every route, API or page, answers
    alike for a session the actor may not see and for one that does not exist.

    Args:
        missing: the 404's detail for a row reached through its session (a bridge, a request
            to speak): the answer for a row of a hidden session must be that of an absent row.

    Raises:
        NotFound: absent, or invisible to the actor (a restricted session is not revealed).
        Forbidden: visible, but ``action`` is not allowed.
    """
    session = await db.get(ReceptionSession, session_id)
    if session is None or not can(actor, Action.VIEW_SESSION, scope_of(session)):
        raise NotFound(missing or f"Không tìm thấy phiên tiếp số {session_id}.")
    if not can(actor, action, scope_of(session)):
        raise Forbidden("Bạn không có quyền thực hiện thao tác này với phiên tiếp.")
    return session


async def update_session(
    db: AsyncSession, actor: Actor, session_id: int, body: SessionUpdate
) -> ReceptionSession:
    """Change a scheduled session; calendars see the change through a higher SEQUENCE."""
    session = await get_session(db, actor, session_id, Action.UPDATE_SESSION)
    if session.status != SessionStatus.SCHEDULED:
        raise Unprocessable("Chỉ sửa được phiên chưa diễn ra.")
    changes = body.model_dump(exclude_unset=True)
    if "chair_id" in changes:
        await _check_chair(db, changes["chair_id"])
    starts = changes.get("starts_at", session.starts_at)
    ends = changes.get("ends_at", session.ends_at)
    if ends <= starts:
        raise Unprocessable("Giờ kết thúc phải sau giờ bắt đầu.")
    for field, value in changes.items():
        setattr(session, field, value.astimezone(UTC) if isinstance(value, datetime) else value)
    session.sequence += 1
    await db.flush()
    return session


async def cancel_session(
    db: AsyncSession, actor: Actor, session_id: int, reason: str
) -> ReceptionSession:
    """Cancel a scheduled session (calendars show it as cancelled)."""
    session = await get_session(db, actor, session_id, Action.CANCEL_SESSION)
    await locked_session(db, session.id)  # the status checked is the one the commit replaces
    move(session, SessionStatus.CANCELLED, reason)
    session.sequence += 1
    await db.flush()
    return session
