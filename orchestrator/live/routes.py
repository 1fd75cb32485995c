"""What browsers and calendar apps reach: login, launch links, the join page, calendar feeds,
and LiveKit's webhook."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import quote

from aiohttp import web
from sqlalchemy import select

from media.grants import ParticipantKind
from orchestrator.core.errors import (
    Conflict,
    OrchestratorError,
)
from orchestrator.core.labels import RECORDER_STATES, STATUSES
from orchestrator.core.lifecycle import move
from orchestrator.core.permissions import Action, may_join
from orchestrator.core.timezone import format_local
from orchestrator.core.vocabulary import RecorderState, Role, SessionStatus
from orchestrator.db.audit import actor_of, audit
from orchestrator.db.locking import locked_session
from orchestrator.db.models import (
    Attendance,
    ConnectionPoint,
    Invitation,
    ReceptionSession,
    RecordingRequest,
    User,
)
from orchestrator.live.join_page import JoinPageConfig, render_join_page
from orchestrator.live.recordings import recorder_state
from orchestrator.live.rooms import (
    LIVEKIT_UNREACHABLE,
    close_room,
    ensure_room,
    participant_token,
)
from orchestrator.live.schemas import AttendanceOut, RecorderOut
from orchestrator.live.session_end import end_session, send_started, start_pipeline
from orchestrator.live.webhooks import apply_event, parse_event, webhook_body, webhook_receiver
from orchestrator.scheduling import invitations
from orchestrator.scheduling import service as svc
from orchestrator.scheduling.launch_links import (
    LaunchLinkError,
    require_current_occurrence,
    verify_launch_token,
)
from orchestrator.scheduling.schemas import SessionOut
from orchestrator.web.api import Route, path_int, reply, reply_rows, user_of
from orchestrator.web.app_keys import DB, LIVEKIT, SETTINGS, USER
from orchestrator.web.auth import now_utc
from orchestrator.web.html import error_page
from orchestrator.web.router import Page

log = logging.getLogger(__name__)


async def launch(request: web.Request) -> web.StreamResponse:
    """A click on a calendar event's link: room up, session live, recorder asked for, join."""
    settings = request.app[SETTINGS]
    user: User | None = request[USER]
    if user is None:
        raise web.HTTPSeeOther(f"/login?next={quote(request.path)}")
    try:
        claims = verify_launch_token(
            settings.security.secret_key.get_secret_value(),
            request.match_info["token"],
            datetime.now(UTC),
        )
    except LaunchLinkError as e:
        return await _launch_refused(request, user, e.reason.value, e.message_vi)
    if claims.user_id != user.id:
        return await _launch_refused(
            request, user, "other_user",
            "Liên kết này được cấp cho người khác. Hãy dùng liên kết trong lịch của chính bạn.",
        )  # fmt: skip
    async with request.app[DB]() as db:
        try:
            session = await svc.get_session(
                db, actor_of(user), claims.session_id, Action.LAUNCH_SESSION
            )
        except OrchestratorError:
            await db.rollback()
            return await _launch_refused(
                request, user, "not_allowed", "Bạn không có quyền mở phiên tiếp này."
            )
        if session.status not in (SessionStatus.SCHEDULED, SessionStatus.LIVE):
            # Read before the rollback, which expires the row (reading it after would do I/O).
            message = _closed_message(session)
            await db.rollback()
            return await _launch_refused(request, user, "status", message, status=409)
        try:
            require_current_occurrence(claims, session.starts_at)
        except LaunchLinkError as e:
            await db.rollback()
            return await _launch_refused(request, user, e.reason.value, e.message_vi)
        try:
            room_name = await ensure_room(request.app[LIVEKIT], session)
        except LIVEKIT_UNREACHABLE as e:
            log.warning("launch of session %s: LiveKit unreachable (%r)", session.id, e,
                        extra={"session": session.id})  # fmt: skip
            await db.rollback()
            return await _launch_refused(
                request, user, "livekit_unreachable",
                "Máy chủ hội nghị trực tuyến chưa trả lời, nên phiên tiếp chưa được mở. Xin thử "
                "lại sau ít phút; nếu vẫn không được, hãy báo quản trị hệ thống.",
                status=503,
            )  # fmt: skip
        # Read again under the row's lock: it may have changed while the room was made.
        await locked_session(db, session.id)
        session.room_name = room_name
        if session.status is not SessionStatus.LIVE:
            move(session, SessionStatus.LIVE)  # refused if it was cancelled meanwhile
        if await db.get(RecordingRequest, session.id) is None:
            db.add(RecordingRequest(session_id=session.id, room_name=session.room_name))
        audit(db, action="session.launch", target=f"session:{session.id}", user=user,
              remote=request.remote, room=session.room_name)  # fmt: skip
        await db.commit()
    raise web.HTTPSeeOther(f"/sessions/{session.id}/join")


def _closed_message(session: ReceptionSession) -> str:
    """What a launch link of a session no longer open says happened to it."""
    message = f"Phiên tiếp “{session.title}” {STATUSES[session.status]}, không thể vào phòng."
    if session.status is SessionStatus.CANCELLED and session.status_reason:
        message += f" Lý do hủy: {session.status_reason}"
    return message


async def _launch_refused(
    request: web.Request, user: User, reason: str, message: str, *, status: int = 403
) -> web.Response:
    async with request.app[DB]() as db:
        audit(db, action="session.launch", target=request.path[:100], outcome="denied",
              user=user, remote=request.remote, reason=reason)  # fmt: skip
        await db.commit()
    return error_page(status, "Không vào được phiên tiếp", message)


def _participant_kind(user: User, session: ReceptionSession) -> ParticipantKind:
    if session.chair_id == user.id or user.role == Role.CHAIR:
        return ParticipantKind.CHAIR
    if user.role == Role.CENTRAL_OBSERVER:
        return ParticipantKind.CENTRAL_OBSERVER
    return ParticipantKind.OFFICER


async def join(request: web.Request) -> web.StreamResponse:
    """The join page of a live session, with a token for the signed-in user."""
    user: User | None = request[USER]
    if user is None:
        raise web.HTTPSeeOther(f"/login?next={quote(request.path)}")
    async with request.app[DB]() as db:
        try:
            session = await svc.get_session(db, actor_of(user), int(request.match_info["id"]))
        except (OrchestratorError, ValueError):
            return error_page(404, "Không tìm thấy phiên", "Không tìm thấy phiên tiếp này.")
        invited = await db.scalar(
            select(Invitation).where(
                Invitation.session_id == session.id, Invitation.user_id == user.id
            )
        )
        if not may_join(actor_of(user), svc.scope_of(session), invited is not None):
            return error_page(403, "Không vào được phiên tiếp", "Bạn không được mời vào phiên này.")
        if session.status != SessionStatus.LIVE or session.room_name is None:
            return error_page(
                409, "Phiên chưa mở",
                f"Phiên tiếp này {STATUSES[session.status]}. "
                "Hãy mở phiên bằng liên kết trong lịch của bạn.",
            )  # fmt: skip
        kind = invited.kind if invited else _participant_kind(user, session)
        audit(db, action="session.join", target=f"session:{session.id}", user=user,
              remote=request.remote, kind=kind.value)  # fmt: skip
        recorder = recorder_state(await db.get(RecordingRequest, session.id), now_utc())
        await db.commit()
    return _join_page(
        request, session, identity=f"user-{user.id}", display_name=user.display_name,
        kind=kind, connection_point=user.agency.name, recorder=recorder,
    )  # fmt: skip


def _join_page(
    request: web.Request,
    session: ReceptionSession,
    *,
    identity: str,
    display_name: str,
    kind: ParticipantKind,
    connection_point: str,
    recorder: RecorderState,
) -> web.Response:
    assert session.room_name is not None
    settings = request.app[SETTINGS]
    token = participant_token(
        settings, session, identity=identity, display_name=display_name, kind=kind,
        connection_point=connection_point,
    )  # fmt: skip
    page = render_join_page(
        JoinPageConfig(
            livekit_url=settings.livekit.browser_url,
            token=token,
            room_name=session.room_name,
            display_name=display_name,
            connection_point=connection_point,
            session_title=session.title,
            leave_url="/",
            recording=recorder is RecorderState.RECORDING,
            recorder_label=RECORDER_STATES[recorder],
        )  # fmt: skip
    )
    return web.Response(text=page, content_type="text/html")


async def guest_join(request: web.Request) -> web.Response:
    """``/join/{token}``: an invited citizen's or connection point's personal link. The audit
    row of each join names the invitation whose link was used."""
    async with request.app[DB]() as db:
        found = await invitations.find_by_link(db, request.match_info["token"])
        if found is None:
            return error_page(404, "Liên kết không đúng",
                              "Liên kết vào phiên không đúng hoặc đã bị thu hồi.")  # fmt: skip
        invitation, session = found.invitation, found.session
        if found.revoked_at is not None:
            audit(db, action="session.join", target=f"session:{session.id}", outcome="denied",
                  remote=request.remote, invitation=invitation.id,
                  reason="link_revoked")  # fmt: skip
            await db.commit()
            return error_page(
                410, "Liên kết đã được thay",
                "Liên kết này đã được thay bằng một liên kết mới lúc "
                f"{format_local(found.revoked_at)} và không còn dùng được. Hãy dùng liên kết mới "
                "mà cơ quan tiếp công dân đã gửi cho bạn, hoặc liên hệ cơ quan để được gửi lại.",
            )  # fmt: skip
        if session.status != SessionStatus.LIVE or session.room_name is None:
            return error_page(
                409, "Phiên chưa mở",
                f"Phiên tiếp này {STATUSES[session.status]}. Phiên bắt đầu lúc "
                f"{format_local(session.starts_at)}; hãy mở lại liên kết khi phiên đã bắt đầu.",
            )  # fmt: skip
        point = await db.get(ConnectionPoint, invitation.connection_point_id or -1)
        audit(db, action="session.join", target=f"session:{session.id}", remote=request.remote,
              kind=invitation.kind.value, identity=invitation.identity,
              invitation=invitation.id)  # fmt: skip
        recorder = recorder_state(await db.get(RecordingRequest, session.id), now_utc())
        await db.commit()
    return _join_page(
        request, session, identity=invitation.identity, display_name=invitation.display_name,
        kind=invitation.kind, connection_point=point.name if point else invitation.display_name,
        recorder=recorder,
    )  # fmt: skip


async def livekit_webhook(request: web.Request) -> web.Response:
    """Signed room events from LiveKit (forged → 401, duplicate → 200 without change; see
    :mod:`orchestrator.live.webhooks` for what else is refused)."""
    body = webhook_body(request.content_type, await request.read())
    receiver = webhook_receiver(request.app[SETTINGS])
    auth = request.headers.get("Authorization", "")
    event = parse_event(receiver, body, auth, datetime.now(UTC))
    started = await apply_event(request.app[DB], event)
    if started is not None:
        await send_started(request.app, started)
    return web.json_response({"ok": True})


async def end_live_session(request: web.Request) -> web.Response:
    """The chair (or an officer of the office) closes a live session: everyone leaves the room,
    the recorder finalizes, and the pipeline starts once the recording is complete."""
    user = user_of(request)
    async with request.app[DB]() as db:
        session = await svc.get_session(
            db, actor_of(user), path_int(request, "id"), Action.LAUNCH_SESSION
        )
        if not await end_session(db, session.id, f"ended by {user.username}"):
            raise Conflict(f"Phiên tiếp này {STATUSES[session.status]}, không thể kết thúc.")
        started = await start_pipeline(db, session.id)
        audit(db, action="session.end", target=f"session:{session.id}", user=user,
              remote=request.remote)  # fmt: skip
        await db.commit()
    if started:
        await send_started(request.app, session.id)
    if session.room_name:
        try:
            await close_room(request.app[LIVEKIT], session.room_name)
        except LIVEKIT_UNREACHABLE as e:
            # The session has ended all the same; an unreachable LiveKit has no room to close,
            # or closes it itself once empty (its empty timeout).
            log.warning("end of session %s: closing room %s failed (%r)", session.id,
                        session.room_name, e, extra={"session": session.id})  # fmt: skip
    return reply(svc.to_out(session))


async def list_attendance(request: web.Request) -> web.Response:
    user = user_of(request)
    async with request.app[DB]() as db:
        session = await svc.get_session(
            db, actor_of(user), path_int(request, "id"), Action.VIEW_ATTENDANCE
        )
        rows = await db.scalars(
            select(Attendance).where(Attendance.session_id == session.id).order_by(Attendance.id)
        )
        return reply_rows(AttendanceOut, rows)


async def get_recorder(request: web.Request) -> web.Response:
    user = user_of(request)
    async with request.app[DB]() as db:
        session = await svc.get_session(
            db, actor_of(user), path_int(request, "id"), Action.VIEW_ATTENDANCE
        )
        recording = await db.get(RecordingRequest, session.id)
        state = recorder_state(recording, now_utc())
        return reply(
            RecorderOut(
                session_id=session.id,
                state=state,
                label=RECORDER_STATES[state],
                agent_id=recording.agent_id if recording else None,
                requested_at=recording.requested_at if recording else None,
            )  # fmt: skip
        )


ROUTES = [
    Route("POST", "/sessions/{id}/end", end_live_session, "End a live session (chair or officer)",
          response=SessionOut),
    Route("GET", "/sessions/{id}/attendance", list_attendance, "Who joined and left, when",
          response=list[AttendanceOut]),
    Route("GET", "/sessions/{id}/recorder", get_recorder,
          "Whether a media agent records the session (no_recorder: nothing does)",
          response=RecorderOut),
]  # fmt: skip

PAGES = [
    Page("GET", "/launch/{token}", launch),
    Page("GET", "/sessions/{id}/join", join),
    Page("GET", "/join/{token}", guest_join),
    Page("POST", "/livekit/webhook", livekit_webhook),
]
