"""Scheduling over HTTP: sessions (one or a series, or an .ics import), invitations, and each
user's calendar feed with its personal launch links."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime

from aiohttp import web
from sqlalchemy import select

from orchestrator.core.errors import (
    BadRequest,
    PayloadTooLarge,
    Unprocessable,
)
from orchestrator.core.permissions import Action, can
from orchestrator.core.vocabulary import SessionStatus
from orchestrator.db.audit import actor_of
from orchestrator.db.models import (
    Invitation,
    User,
)
from orchestrator.scheduling import invitations
from orchestrator.scheduling import service as svc
from orchestrator.scheduling.calendar_feed import FeedEvent, occurrence_uid, render_feed
from orchestrator.scheduling.ics_import import IcsImportError, TooManyEvents, parse_ics
from orchestrator.scheduling.ics_sessions import import_events
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
        created = await svc.create_sessions(
            db, actor_of(user), body, request.app[SETTINGS].scheduling.expansion_timeout_s
        )
        await commit_audited(request, db, action="session.create",
                             target=f"session:{created[0].id}", count=len(created))  # fmt: skip
        return reply([svc.to_out(s) for s in created], status=201)


async def import_sessions(request: web.Request) -> web.Response:
    """Create sessions from an .ics exported by Outlook or Google Calendar, or bring those of an
    earlier import of the same events up to date."""
    user = user_of(request)
    settings = request.app[SETTINGS]
    agency_id = parse_query(request.query, ImportQuery).agency_id
    data = await _capped_body(request, settings.scheduling.import_max_bytes)
    try:
        events = await asyncio.to_thread(parse_ics, data, settings.scheduling.import_max_events)
    except TooManyEvents as e:
        raise Unprocessable(str(e)) from e
    except IcsImportError as e:
        raise BadRequest(str(e)) from e
    async with request.app[DB]() as db:
        outcome = await import_events(db, actor_of(user), agency_id, events, settings)
        await commit_audited(request, db, action="session.import", target=f"agency:{agency_id}",
                             created=outcome.created, updated=outcome.updated,
                             cancelled=outcome.cancelled)  # fmt: skip
        return reply([svc.to_out(s) for s in outcome.sessions], status=201)


async def _capped_body(request: web.Request, cap: int) -> bytes:
    """The body, refused with a 413 as soon as it is known to exceed ``cap`` bytes."""
    too_large = PayloadTooLarge(
        f"Tệp ICS vượt giới hạn {cap // 1024} KiB ({cap} byte) mỗi lần nhập. "
        "Hãy chia lịch thành nhiều tệp nhỏ hơn."
    )
    if request.content_length is not None and request.content_length > cap:
        raise too_large
    data = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        data += chunk
        if len(data) > cap:
            raise too_large
    return bytes(data)


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


def _invitation_out(request: web.Request, inv: Invitation, *, with_link: bool) -> InvitationOut:
    public = request.app[SETTINGS].web.public_url.rstrip("/")
    join_url = f"{public}/join/{inv.join_token}" if inv.join_token and with_link else None
    return InvitationOut(
        id=inv.id, kind=inv.kind, display_name=inv.display_name, user_id=inv.user_id,
        connection_point_id=inv.connection_point_id, identity=inv.identity, join_url=join_url,
    )  # fmt: skip


async def create_invitation(request: web.Request) -> web.Response:
    user = user_of(request)
    body = await parse(request, InvitationCreate)
    async with request.app[DB]() as db:
        inv = await invitations.create_invitation(db, actor_of(user), path_int(request, "id"), body)
        await commit_audited(request, db, action="invitation.create",
                             target=f"session:{inv.session_id}", identity=inv.identity,
                             invitation=inv.id)  # fmt: skip
        return reply(_invitation_out(request, inv, with_link=True), status=201)


async def list_invitations(request: web.Request) -> web.Response:
    """The session's invitations; the guests' join links only for those who invite, and each
    such reading is audited (a link lets its holder speak under the guest's name)."""
    user = user_of(request)
    session_id = path_int(request, "id")
    async with request.app[DB]() as db:
        rows, with_links = await invitations.list_invitations(db, actor_of(user), session_id)
        links = [inv.id for inv in rows if inv.join_token]
        if with_links and links:
            await commit_audited(request, db, action="invitation.links_read",
                                 target=f"session:{session_id}", invitations=links)  # fmt: skip
        return reply([_invitation_out(request, inv, with_link=with_links) for inv in rows])


async def reissue_join_link(request: web.Request) -> web.Response:
    """A guest's new join link; the old one stops working at once."""
    user = user_of(request)
    session_id, invitation_id = path_int(request, "id"), path_int(request, "invitation_id")
    async with request.app[DB]() as db:
        inv = await invitations.reissue_link(db, actor_of(user), session_id, invitation_id)
        await commit_audited(request, db, action="invitation.reissue",
                             target=f"session:{session_id}", invitation=inv.id)  # fmt: skip
        return reply(_invitation_out(request, inv, with_link=True))


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
    Route("POST", "/sessions/{id}/invitations/{invitation_id}/link", reissue_join_link,
          "A guest's new join link; the old one is revoked", response=InvitationOut),
    Route("GET", "/me/calendar", my_calendar, "The caller's calendar feed URL",
          response=CalendarFeedOut),
    Route("POST", "/me/calendar/rotate", rotate_calendar, "Revoke and reissue the feed URL",
          response=CalendarFeedOut),
]  # fmt: skip

PAGES = [Page("GET", "/calendar/{token}.ics", calendar_feed)]
