"""Sessions from an imported .ics: created the first time, brought up to date after.

Each session keeps the UID of the event it came from, so importing the same file again (or a
newer export of the same calendar) changes the office's sessions to match the file instead of
adding a second copy of each: an occurrence still at the same time keeps its session, one that
moved takes the place of one no longer in the file, new ones are created and scheduled ones the
file no longer holds are cancelled (calendars see all of it through SEQUENCE). A session that has
already started is history and is left as it is. Everything happens in the caller's one
transaction, bounded by the settings' caps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config import Settings
from orchestrator.core.errors import Unprocessable
from orchestrator.core.lifecycle import move
from orchestrator.core.permissions import Actor
from orchestrator.core.vocabulary import SessionStatus
from orchestrator.db.locking import locked_session
from orchestrator.db.models import Agency, ReceptionSession, SessionSeries
from orchestrator.scheduling import service as svc
from orchestrator.scheduling.ics_import import ImportedEvent
from orchestrator.scheduling.schemas import SessionCreate

DEFAULT_TITLE = "Phiên tiếp công dân"
DROPPED_REASON = "Sự kiện không còn trong tệp lịch được nhập lại."


@dataclass(frozen=True)
class ImportOutcome:
    """What an import did.

    Attributes:
        sessions: the sessions of the file's events, created or kept, soonest first.
        created: how many were created.
        updated: how many existing ones changed.
        cancelled: how many scheduled ones the file no longer holds were cancelled.
    """

    sessions: list[ReceptionSession]
    created: int
    updated: int
    cancelled: int


async def import_events(
    db: AsyncSession,
    actor: Actor,
    agency_id: int,
    events: Sequence[ImportedEvent],
    settings: Settings,
) -> ImportOutcome:
    """Create or update the agency's sessions from the events of one .ics file.

    Raises:
        Forbidden: the actor may not create sessions for the agency.
        Unprocessable: unknown agency, a recurrence that cannot be expanded, or more sessions
            than ``scheduling.import_max_sessions``.
    """
    agency = await svc.creatable_agency(db, actor, agency_id, restricted=False)
    bodies = [_body(agency, event) for event in events]
    starts = await _starts(events, bodies, settings)
    total = sum(map(len, starts))
    cap = settings.scheduling.import_max_sessions
    if total > cap:
        raise Unprocessable(
            f"Tệp ICS sinh ra {total} phiên tiếp, vượt giới hạn {cap} phiên mỗi lần nhập. "
            "Hãy chia lịch thành nhiều tệp nhỏ hơn hoặc rút ngắn quy tắc lặp lại."
        )
    existing = await _existing(db, agency, [e.uid for e in events])
    outcome = ImportOutcome([], 0, 0, 0)
    for event, body, event_starts in zip(events, bodies, starts, strict=True):
        outcome = await _apply(db, actor, agency, event, body, event_starts,
                               existing.get(event.uid, []), outcome)  # fmt: skip
    await db.flush()
    outcome.sessions.sort(key=lambda s: (s.starts_at, s.id))
    return outcome


def _body(agency: Agency, event: ImportedEvent) -> SessionCreate:
    return SessionCreate(
        title=(event.summary or DEFAULT_TITLE)[:300],
        agency_id=agency.id,
        starts_at=event.start,
        ends_at=event.end,
        rrule=event.recurrence.rrule if event.recurrence else None,
        exdates=list(event.recurrence.exdates) if event.recurrence else [],
    )


async def _starts(
    events: Sequence[ImportedEvent], bodies: Sequence[SessionCreate], settings: Settings
) -> list[list[datetime]]:
    """Each event's occurrence starts: recurring ones all expanded in one bounded child."""
    recurring = [(b.starts_at, b.ends_at - b.starts_at, e.recurrence)
                 for e, b in zip(events, bodies, strict=True) if e.recurrence]  # fmt: skip
    expanded = iter(
        await svc.series_occurrences(recurring, settings.scheduling.expansion_timeout_s)
    )
    return [
        [o.start for o in next(expanded)] if e.recurrence else [e.start.astimezone(UTC)]
        for e in events
    ]


async def _existing(
    db: AsyncSession, agency: Agency, uids: list[str]
) -> dict[str, list[ReceptionSession]]:
    rows = await db.scalars(
        select(ReceptionSession)
        .where(ReceptionSession.agency_id == agency.id, ReceptionSession.ical_uid.in_(uids))
        .order_by(ReceptionSession.starts_at, ReceptionSession.id)
    )
    found: dict[str, list[ReceptionSession]] = {}
    for session in rows:
        assert session.ical_uid is not None  # selected by it
        found.setdefault(session.ical_uid, []).append(session)
    return found


async def _apply(
    db: AsyncSession,
    actor: Actor,
    agency: Agency,
    event: ImportedEvent,
    body: SessionCreate,
    starts: list[datetime],
    existing: list[ReceptionSession],
    outcome: ImportOutcome,
) -> ImportOutcome:
    """Bring one event's sessions in line with its occurrence ``starts``."""
    series = await _series(db, event, existing)
    wanted = set(starts)
    kept = [s for s in existing if s.starts_at in wanted or s.status != SessionStatus.SCHEDULED]
    free = [s for s in existing if s not in kept]  # scheduled, at a time the file dropped
    taken = {s.starts_at for s in kept}
    missing = [start for start in starts if start not in taken]
    updated = sum(_update(s, body, s.starts_at) for s in kept)
    # A moved occurrence takes over a session of a time the file no longer has.
    for session, start in zip(free, missing, strict=False):
        updated += _update(session, body, start)
    moved = min(len(free), len(missing))
    created = [
        svc.new_session(actor, agency, body, start, series, event.uid) for start in missing[moved:]
    ]
    db.add_all(created)
    for session in free[moved:]:
        await locked_session(db, session.id)  # the status checked is the one the commit replaces
        move(session, SessionStatus.CANCELLED, DROPPED_REASON)
        session.sequence += 1
    return ImportOutcome(
        sessions=[*outcome.sessions, *kept, *free[:moved], *created],
        created=outcome.created + len(created),
        updated=outcome.updated + updated,
        cancelled=outcome.cancelled + len(free) - moved,
    )


async def _series(
    db: AsyncSession, event: ImportedEvent, existing: list[ReceptionSession]
) -> SessionSeries | None:
    """The event's series, kept from the sessions made before and given the file's rule."""
    if event.recurrence is None:
        return None
    fresh = svc.new_series(event.recurrence)
    series_id = next((s.series_id for s in existing if s.series_id is not None), None)
    series = None if series_id is None else await db.get(SessionSeries, series_id)
    if series is None:
        db.add(fresh)
        return fresh
    series.rrule, series.exdates = fresh.rrule, fresh.exdates
    return series


def _update(session: ReceptionSession, body: SessionCreate, start: datetime) -> bool:
    """Change a scheduled session to the event's title and times; whether anything changed."""
    if session.status != SessionStatus.SCHEDULED:
        return False
    end = start + (body.ends_at - body.starts_at)
    if (session.title, session.starts_at, session.ends_at) == (body.title, start, end):
        return False
    session.title, session.starts_at, session.ends_at = body.title, start, end
    session.sequence += 1
    return True
