"""The JSON API under /api/v1. Handlers parse, call a service, and return."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime

from aiohttp import web
from sqlalchemy import select

from media.assignments import AGENT_HEADER
from orchestrator import archive_routes, bridges, central_api, processing_api, recordings
from orchestrator import sessions as svc
from orchestrator.api_helpers import Route, parse, path_int, reply, user_of
from orchestrator.app_events import session_ended
from orchestrator.audit import audit
from orchestrator.auth import actor_of, csrf_token, now_utc
from orchestrator.db.models import Agency, Attendance, Invitation, Province, User
from orchestrator.domain import ParticipantKind, SessionStatus
from orchestrator.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    Unauthenticated,
    Unprocessable,
)
from orchestrator.ics_import import IcsImportError, parse_ics
from orchestrator.keys import DB, LIVEKIT, SETTINGS
from orchestrator.lifecycle import status_vi
from orchestrator.openapi import openapi_document
from orchestrator.permissions import Action, can
from orchestrator.rooms import close_room
from orchestrator.schemas import (
    AgencyCreate,
    AgencyOut,
    AgentHeartbeat,
    AssignmentOut,
    AttendanceOut,
    CalendarFeedOut,
    CancelRequest,
    HeartbeatOut,
    InvitationCreate,
    InvitationOut,
    MeOut,
    RecordingComplete,
    RecordingCompleteOut,
    SessionCreate,
    SessionOut,
    SessionUpdate,
    UserCreate,
    UserOut,
)
from orchestrator.search import web as search_web
from orchestrator.users import new_user
from orchestrator.webhooks import end_session

PREFIX = "/api/v1"


def _query_time(request: web.Request, name: str) -> datetime | None:
    value = request.query.get(name)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as e:
        raise BadRequest(f"Tham số {name} không phải thời điểm ISO 8601: {value!r}.") from e
    if parsed.tzinfo is None:
        raise BadRequest(f"Tham số {name} cần có múi giờ, ví dụ {value}+07:00.")
    return parsed


# --- sessions ----------------------------------------------------------------------------


async def create_sessions(request: web.Request) -> web.Response:
    user = user_of(request)
    body = await parse(request, SessionCreate)
    async with request.app[DB]() as db:
        created = await svc.create_sessions(db, actor_of(user), body)
        audit(db, action="session.create", target=f"session:{created[0].id}", user=user,
              request=request, count=len(created))  # fmt: skip
        await db.commit()
        return reply([svc.to_out(s) for s in created], status=201)


async def import_sessions(request: web.Request) -> web.Response:
    """Create sessions from an .ics exported by Outlook or Google Calendar."""
    user = user_of(request)
    try:
        agency_id = int(request.query["agency_id"])
    except (KeyError, ValueError) as e:
        raise BadRequest("Cần tham số agency_id (số) cho cơ quan tổ chức các phiên.") from e
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
        audit(db, action="session.import", target=f"agency:{agency_id}", user=user,
              request=request, count=len(created))  # fmt: skip
        await db.commit()
        return reply([svc.to_out(s) for s in created], status=201)


async def list_sessions(request: web.Request) -> web.Response:
    user = user_of(request)
    status = request.query.get("status")
    try:
        status_filter = SessionStatus(status) if status else None
    except ValueError as e:
        raise BadRequest(f"Trạng thái không hợp lệ: {status!r}.") from e
    async with request.app[DB]() as db:
        rows = await svc.list_sessions(
            db, actor_of(user), status=status_filter,
            start_from=_query_time(request, "from"), start_to=_query_time(request, "to"),
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
        audit(db, action="session.update", target=f"session:{session.id}", user=user,
              request=request, fields=sorted(body.model_fields_set))  # fmt: skip
        await db.commit()
        return reply(svc.to_out(session))


async def cancel_session(request: web.Request) -> web.Response:
    user = user_of(request)
    body = await parse(request, CancelRequest)
    async with request.app[DB]() as db:
        session = await svc.cancel_session(db, actor_of(user), path_int(request, "id"), body.reason)
        audit(db, action="session.cancel", target=f"session:{session.id}", user=user,
              request=request, reason=body.reason)  # fmt: skip
        await db.commit()
        return reply(svc.to_out(session))


async def end_live_session(request: web.Request) -> web.Response:
    """The chair (or an officer of the office) closes a live session: everyone leaves the room,
    the recorder finalizes, and the pipeline starts once the recording is complete."""
    user = user_of(request)
    async with request.app[DB]() as db:
        session = await svc.get_session(
            db, actor_of(user), path_int(request, "id"), Action.LAUNCH_SESSION
        )
        if not end_session(session, f"ended by {user.username}"):
            raise Conflict(f"Phiên tiếp này {status_vi(session.status)}, không thể kết thúc.")
        started = await recordings.claim_pipeline_start(db, session.id)
        audit(db, action="session.end", target=f"session:{session.id}", user=user,
              request=request)  # fmt: skip
        await db.commit()
    if session.room_name:
        await close_room(request.app[LIVEKIT], session.room_name)
    if started:
        await session_ended(request.app, session.id)
    return reply(svc.to_out(session))


# --- invitations and attendance -----------------------------------------------------------


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
        audit(db, action="invitation.create", target=f"session:{session.id}", user=user,
              request=request, identity=identity)  # fmt: skip
        await db.commit()
        return reply(_invitation_out(request, inv), status=201)


async def list_invitations(request: web.Request) -> web.Response:
    user = user_of(request)
    async with request.app[DB]() as db:
        session = await svc.get_session(db, actor_of(user), path_int(request, "id"))
        rows = await db.scalars(
            select(Invitation).where(Invitation.session_id == session.id).order_by(Invitation.id)
        )
        return reply([_invitation_out(request, inv) for inv in rows])


async def list_attendance(request: web.Request) -> web.Response:
    user = user_of(request)
    async with request.app[DB]() as db:
        session = await svc.get_session(
            db, actor_of(user), path_int(request, "id"), Action.VIEW_ATTENDANCE
        )
        rows = await db.scalars(
            select(Attendance).where(Attendance.session_id == session.id).order_by(Attendance.id)
        )
        return reply([AttendanceOut.model_validate(r, from_attributes=True) for r in rows])


# --- users, agencies, calendar ------------------------------------------------------------


def _admin(request: web.Request, action: Action) -> User:
    user = user_of(request)
    if not can(actor_of(user), action):
        raise Forbidden("Chỉ quản trị viên được thực hiện thao tác này.")
    return user


async def create_user(request: web.Request) -> web.Response:
    admin = _admin(request, Action.MANAGE_USERS)
    body = await parse(request, UserCreate)
    async with request.app[DB]() as db:
        if await db.get(Agency, body.agency_id) is None:
            raise Unprocessable(f"Không có cơ quan mã {body.agency_id}.")
        if await db.scalar(select(User).where(User.username == body.username)):
            raise Unprocessable(f"Tên đăng nhập {body.username!r} đã có người dùng.")
        user = new_user(body)
        db.add(user)
        await db.flush()
        audit(db, action="user.create", target=f"user:{user.id}", user=admin, request=request)
        await db.commit()
        return reply(UserOut.model_validate(user, from_attributes=True), status=201)


async def list_users(request: web.Request) -> web.Response:
    _admin(request, Action.MANAGE_USERS)
    async with request.app[DB]() as db:
        rows = await db.scalars(select(User).order_by(User.id))
        return reply([UserOut.model_validate(u, from_attributes=True) for u in rows])


async def create_agency(request: web.Request) -> web.Response:
    admin = _admin(request, Action.MANAGE_AGENCIES)
    body = await parse(request, AgencyCreate)
    async with request.app[DB]() as db:
        if await db.get(Province, body.province_code) is None:
            raise Unprocessable(f"Không có tỉnh, thành phố mã {body.province_code!r}.")
        agency = Agency(**body.model_dump())
        db.add(agency)
        await db.flush()
        audit(db, action="agency.create", target=f"agency:{agency.id}", user=admin,
              request=request)  # fmt: skip
        await db.commit()
        return reply(AgencyOut.model_validate(agency, from_attributes=True), status=201)


async def list_agencies(request: web.Request) -> web.Response:
    user_of(request)
    async with request.app[DB]() as db:
        rows = await db.scalars(select(Agency).order_by(Agency.id))
        return reply([AgencyOut.model_validate(a, from_attributes=True) for a in rows])


async def me(request: web.Request) -> web.Response:
    """Who is signed in; cookie sessions also get the CSRF token for their X-CSRF-Token header."""
    user = user_of(request)
    bearer = request.headers.get("Authorization", "").startswith("Bearer ")
    return reply(
        MeOut(
            user=UserOut.model_validate(user, from_attributes=True),
            csrf_token=None if bearer else await csrf_token(request),
        )
    )


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
        audit(db, action="calendar.rotate", target=f"user:{user.id}", user=user, request=request)
        await db.commit()
        return reply(_feed_url(request, row))


# --- media agents ------------------------------------------------------------------------


def _agent(request: web.Request) -> None:
    sent = request.headers.get(AGENT_HEADER, "")
    expected = request.app[SETTINGS].security.media_agent_token
    if not hmac.compare_digest(sent, expected):
        raise Unauthenticated("Chỉ tác tử ghi âm (media agent) được gọi địa chỉ này.")


async def agent_heartbeat(request: web.Request) -> web.Response:
    _agent(request)
    body = await parse(request, AgentHeartbeat)
    async with request.app[DB]() as db:
        assignments = await recordings.heartbeat(db, body.agent_id, body.capacity, now_utc())
        bridged = await bridges.heartbeat(
            db, body.agent_id, body.capacity, body.bridges_running, now_utc()
        )
        await db.commit()
    return reply(
        HeartbeatOut(
            assignments=[
                AssignmentOut.model_validate(a, from_attributes=True) for a in assignments
            ],
            lease_seconds=recordings.LEASE_TTL.total_seconds(),
            bridges=bridged,
        )  # fmt: skip
    )


async def recording_complete(request: web.Request) -> web.Response:
    _agent(request)
    body = await parse(request, RecordingComplete)
    session_id = path_int(request, "id")
    async with request.app[DB]() as db:
        completed = await recordings.complete_recording(
            db, body.agent_id, session_id, body.manifest_path, now_utc()
        )
        started = completed and await recordings.claim_pipeline_start(db, session_id)
        audit(db, action="recording.complete", target=f"session:{session_id}",
              outcome="allowed" if completed else "failed", agent=body.agent_id)  # fmt: skip
        await db.commit()
    if started:
        await session_ended(request.app, session_id)
    return reply(RecordingCompleteOut(completed=completed, pipeline_started=started))


ROUTES = [
    Route("GET", "/sessions", list_sessions, "Sessions the caller may see",
          response=list[SessionOut]),
    Route("POST", "/sessions", create_sessions, "Create a session or a recurring series",
          body=SessionCreate, response=list[SessionOut], status=201),
    Route("POST", "/sessions/import", import_sessions, "Create sessions from an .ics file",
          response=list[SessionOut], status=201, body_media_type="text/calendar"),
    Route("GET", "/sessions/{id}", get_session, "One session", response=SessionOut),
    Route("PATCH", "/sessions/{id}", update_session, "Change a scheduled session",
          body=SessionUpdate, response=SessionOut),
    Route("POST", "/sessions/{id}/cancel", cancel_session, "Cancel a scheduled session",
          body=CancelRequest, response=SessionOut),
    Route("POST", "/sessions/{id}/end", end_live_session, "End a live session (chair or officer)",
          response=SessionOut),
    Route("GET", "/sessions/{id}/invitations", list_invitations, "Invitations of a session",
          response=list[InvitationOut]),
    Route("POST", "/sessions/{id}/invitations", create_invitation, "Invite someone",
          body=InvitationCreate, response=InvitationOut, status=201),
    Route("GET", "/sessions/{id}/attendance", list_attendance, "Who joined and left, when",
          response=list[AttendanceOut]),
    Route("GET", "/users", list_users, "All users (admin)", response=list[UserOut]),
    Route("POST", "/users", create_user, "Create a user (admin)", body=UserCreate,
          response=UserOut, status=201),
    Route("GET", "/agencies", list_agencies, "Reception offices", response=list[AgencyOut]),
    Route("POST", "/agencies", create_agency, "Create a reception office (admin)",
          body=AgencyCreate, response=AgencyOut, status=201),
    Route("GET", "/me", me, "The signed-in user and the session's CSRF token", response=MeOut),
    Route("POST", "/media/heartbeat", agent_heartbeat,
          "Media agent: renew leases, take free rooms, list assignments", body=AgentHeartbeat,
          response=HeartbeatOut),
    Route("POST", "/media/recordings/{id}/complete", recording_complete,
          "Media agent: a recording is finalized (starts the pipeline once)",
          body=RecordingComplete, response=RecordingCompleteOut),
    Route("GET", "/me/calendar", my_calendar, "The caller's calendar feed URL",
          response=CalendarFeedOut),
    Route("POST", "/me/calendar/rotate", rotate_calendar, "Revoke and reissue the feed URL",
          response=CalendarFeedOut),
    *central_api.ROUTES,
    *processing_api.ROUTES,
    *search_web.ROUTES,
    *archive_routes.ROUTES,
]  # fmt: skip


def add_routes(app: web.Application) -> None:
    """Register every API route and the OpenAPI document."""
    for route in ROUTES:
        app.router.add_route(route.method, PREFIX + route.path, route.handler)

    async def openapi(_request: web.Request) -> web.Response:
        return web.json_response(openapi_document(ROUTES, PREFIX))

    app.router.add_get(PREFIX + "/openapi.json", openapi)
