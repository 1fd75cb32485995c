"""Scheduling over HTTP: sessions (one or a series, or an .ics import), invitations, and each
user's calendar feed with its personal launch links."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from aiohttp import web
from sqlalchemy import select

from media.grants import ParticipantKind
from orchestrator.core.errors import (
    BadRequest,
    Unprocessable,
)
from orchestrator.core.permissions import Action, can
from orchestrator.core.vocabulary import SessionStatus
from orchestrator.db.audit import actor_of
from orchestrator.db.models import (
    Invitation,
    User,
)
from orchestrator.scheduling import service as svc
from orchestrator.scheduling.calendar_feed import FeedEvent, occurrence_uid, render_feed
from orchestrator.scheduling.ics_import import IcsImportError, parse_ics
from orchestrator.scheduling.launch_links import launch_url
from orchestrator.scheduling.schemas import (
    CalendarFeedOut,
    CancelRequest,
    ImportQuery,
    InvitationCreate,
    InvitationOut,
    SessionCreate,
    SessionListQuery,
    SessionOut,
    SessionUpdate,
)
from orchestrator.web.api import (
    Route,
    commit_audited,
    parse,
    parse_query,
    path_int,
    reply,
    user_of,
)
from orchestrator.web.app_keys import DB, SETTINGS
from orchestrator.web.html import error_page
from orchestrator.web.router import Page


async def create_sessions(request: web.Request) -> web.Response:
    user = user_of(request)
    body = await parse(request, SessionCreate)
    async with request.app[DB]() as db:
        created = await svc.create_sessions(db, actor_of(user), body)
        await commit_audited(request, db, action="session.create",
                             target=f"session:{created[0].id}", count=len(created))  # fmt: skip
        return reply([svc.to_out(s) for s in created], status=201)


async def import_sessions(request: web.Request) -> web.Response:
    """Create sessions from an .ics exported by Outlook or Google Calendar."""
    user = user_of(request)
    agency_id = parse_query(request.query, ImportQuery).agency_id
    try:
        events = parse_ics(await request.read())
    except IcsImportError as e:
        raise BadRequest(str(e)) from e
    async with request.app[DB]() as db:
        created = []
        for event in events:
            body = SessionCreate(
                title=event.summary or "Phiên tiếp công dân",
                agency_id=agency_id,
                starts_at=event.start,
                ends_at=event.end,
                rrule=event.recurrence.rrule if event.recurrence else None,
                exdates=list(event.recurrence.exdates) if event.recurrence else [],
            )
            created += await svc.create_sessions(db, actor_of(user), body)
        await commit_audited(request, db, action="session.import", target=f"agency:{agency_id}",
                             count=len(created))  # fmt: skip
        return reply([svc.to_out(s) for s in created], status=201)


async def list_sessions(request: web.Request) -> web.Response:
    user = user_of(request)
    query = parse_query(request.query, SessionListQuery)
    async with request.app[DB]() as db:
        rows = await svc.list_sessions(
            db, actor_of(user), status=query.status,
            start_from=query.start_from, start_to=query.start_to,
        )  # fmt: skip
        return reply([svc.to_out(s) for s in rows])


async def get_session(request: web.Request) -> web.Response:
    user = user_of(request)
    async with request.app[DB]() as db:
        session = await svc.get_session(db, actor_of(user), path_int(request, "id"))
        return reply(svc.to_out(session))


async def update_session(request: web.Request) -> web.Response:
    user = user_of(request)
    body = await parse(request, SessionUpdate)
    async with request.app[DB]() as db:
        session = await svc.update_session(db, actor_of(user), path_int(request, "id"), body)
        await commit_audited(request, db, action="session.update", target=f"session:{session.id}",
                             fields=sorted(body.model_fields_set))  # fmt: skip
        return reply(svc.to_out(session))


async def cancel_session(request: web.Request) -> web.Response:
    user = user_of(request)
    body = await parse(request, CancelRequest)
    async with request.app[DB]() as db:
        session = await svc.cancel_session(db, actor_of(user), path_int(request, "id"), body.reason)
        await commit_audited(request, db, action="session.cancel", target=f"session:{session.id}",
                             reason=body.reason)  # fmt: skip
        return reply(svc.to_out(session))


def _invitation_out(request: web.Request, inv: Invitation) -> InvitationOut:
    public = request.app[SETTINGS].web.public_url.rstrip("/")
    join_url = f"{public}/join/{inv.join_token}" if inv.join_token else None
    return InvitationOut(
        id=inv.id, kind=inv.kind, display_name=inv.display_name, user_id=inv.user_id,
        connection_point_id=inv.connection_point_id, identity=inv.identity, join_url=join_url,
    )  # fmt: skip


async def create_invitation(request: web.Request) -> web.Response:
    user = user_of(request)
    body = await parse(request, InvitationCreate)
    if body.kind in (ParticipantKind.RECORDER, ParticipantKind.BRIDGE):
        raise Unprocessable("Không mời được tài khoản máy (ghi âm, cầu nối) như người dự.")
    async with request.app[DB]() as db:
        session = await svc.get_session(
            db, actor_of(user), path_int(request, "id"), Action.MANAGE_INVITATIONS
        )
        if body.user_id is not None and await db.get(User, body.user_id) is None:
            raise Unprocessable(f"Không có người dùng mã {body.user_id}.")
        if body.connection_point_id is not None and body.connection_point_id not in {
            p.id for p in session.connection_points
        }:
            raise Unprocessable("Điểm cầu không thuộc phiên này.")
        identity = f"user-{body.user_id}" if body.user_id else f"guest-{secrets.token_hex(6)}"
        inv = Invitation(
            session_id=session.id, kind=body.kind, display_name=body.display_name,
            user_id=body.user_id, connection_point_id=body.connection_point_id, identity=identity,
            # Users sign in; citizens and connection points get a personal link instead.
            join_token=None if body.user_id else secrets.token_urlsafe(24),
        )  # fmt: skip
        db.add(inv)
        await commit_audited(request, db, action="invitation.create",
                             target=f"session:{session.id}", identity=identity)  # fmt: skip
        return reply(_invitation_out(request, inv), status=201)


async def list_invitations(request: web.Request) -> web.Response:
    user = user_of(request)
    async with request.app[DB]() as db:
        session = await svc.get_session(db, actor_of(user), path_int(request, "id"))
        rows = await db.scalars(
            select(Invitation).where(Invitation.session_id == session.id).order_by(Invitation.id)
        )
        return reply([_invitation_out(request, inv) for inv in rows])


def _feed_url(request: web.Request, user: User) -> CalendarFeedOut:
    public = request.app[SETTINGS].web.public_url.rstrip("/")
    return CalendarFeedOut(url=f"{public}/calendar/{user.feed_token}.ics")


async def my_calendar(request: web.Request) -> web.Response:
    return reply(_feed_url(request, user_of(request)))


async def rotate_calendar(request: web.Request) -> web.Response:
    """Revoke the old feed URL and issue a new one."""
    user = user_of(request)
    async with request.app[DB]() as db:
        row = await db.get(User, user.id)
        assert row is not None
        row.feed_token = secrets.token_urlsafe(24)
        await commit_audited(request, db, action="calendar.rotate", target=f"user:{user.id}")
        return reply(_feed_url(request, row))


async def calendar_feed(request: web.Request) -> web.Response:
    """``/calendar/{feed-token}.ics``: the user's sessions with personal launch links."""
    settings = request.app[SETTINGS]
    async with request.app[DB]() as db:
        user = await db.scalar(
            select(User).where(User.feed_token == request.match_info["token"], User.active)
        )
        if user is None:
            return error_page(404, "Không có lịch", "Liên kết lịch không đúng hoặc đã bị thu hồi.")
        rows = await db.scalars(svc.user_sessions_query(user))
        actor = actor_of(user)
        sessions = [s for s in rows if can(actor, Action.VIEW_SESSION, svc.scope_of(s))]
    events = [
        FeedEvent(
            uid=occurrence_uid(s.id, s.starts_at),
            sequence=s.sequence,
            start=s.starts_at,
            end=s.ends_at,
            summary=s.title,
            description=s.agency.name,
            location=s.agency.name,
            url=launch_url(settings, user.id, s),
            cancelled=s.status == SessionStatus.CANCELLED,
            last_modified=s.updated_at,
        )
        for s in sessions
    ]
    body = render_feed(f"Tiếp công dân — {user.display_name}", events, datetime.now(UTC))
    return web.Response(
        body=body,
        content_type="text/calendar",
        charset="utf-8",
        headers={"Cache-Control": "private, no-store"},
    )


ROUTES = [
    Route("GET", "/sessions", list_sessions, "Sessions the caller may see",
          query=SessionListQuery, response=list[SessionOut]),
    Route("POST", "/sessions", create_sessions, "Create a session or a recurring series",
          body=SessionCreate, response=list[SessionOut], status=201),
    Route("POST", "/sessions/import", import_sessions, "Create sessions from an .ics file",
          query=ImportQuery, response=list[SessionOut], status=201,
          body_media_type="text/calendar"),
    Route("GET", "/sessions/{id}", get_session, "One session", response=SessionOut),
    Route("PATCH", "/sessions/{id}", update_session, "Change a scheduled session",
          body=SessionUpdate, response=SessionOut),
    Route("POST", "/sessions/{id}/cancel", cancel_session, "Cancel a scheduled session",
          body=CancelRequest, response=SessionOut),
    Route("GET", "/sessions/{id}/invitations", list_invitations, "Invitations of a session",
          response=list[InvitationOut]),
    Route("POST", "/sessions/{id}/invitations", create_invitation, "Invite someone",
          body=InvitationCreate, response=InvitationOut, status=201),
    Route("GET", "/me/calendar", my_calendar, "The caller's calendar feed URL",
          response=CalendarFeedOut),
    Route("POST", "/me/calendar/rotate", rotate_calendar, "Revoke and reissue the feed URL",
          response=CalendarFeedOut),
]  # fmt: skip

PAGES = [Page("GET", "/calendar/{token}.ics", calendar_feed)]
