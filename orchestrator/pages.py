"""What browsers and calendar apps reach: login, launch links, the join page, calendar feeds,
and LiveKit's webhook."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from aiohttp import web
from sqlalchemy import select

from config import Settings
from orchestrator import sessions as svc
from orchestrator.app_events import session_ended
from orchestrator.audit import audit
from orchestrator.auth import actor_of, csrf_token, log_in, log_out, password_matches
from orchestrator.calendar_feed import FeedEvent, occurrence_uid, render_feed
from orchestrator.db.models import (
    ConnectionPoint,
    Invitation,
    ReceptionSession,
    RecordingRequest,
    User,
)
from orchestrator.domain import ParticipantKind, Role, SessionStatus
from orchestrator.errors import OrchestratorError
from orchestrator.html import error_page, html_page
from orchestrator.join_page import JoinPageConfig, render_join_page
from orchestrator.keys import DB, LIVEKIT, SETTINGS, USER
from orchestrator.launch_links import (
    LaunchClaims,
    LaunchLinkError,
    launch_window,
    sign_launch_token,
    verify_launch_token,
)
from orchestrator.lifecycle import status_vi
from orchestrator.permissions import Action, can, may_join
from orchestrator.rooms import ensure_room, participant_token
from orchestrator.timezone import format_local
from orchestrator.webhooks import apply_event, parse_event, webhook_receiver

log = logging.getLogger(__name__)


async def _login_form(
    request: web.Request, next_url: str, message: str = "", username: str = "", status: int = 200
) -> web.Response:
    return html_page(
        "login.html", status, next_url=next_url, csrf=await csrf_token(request),
        message=message, username=username,
    )  # fmt: skip


def _safe_next(value: str) -> str:
    # Only local paths: a login form must not bounce people to another site.
    return value if value.startswith("/") and not value.startswith("//") else "/"


async def login_page(request: web.Request) -> web.Response:
    return await _login_form(request, _safe_next(request.query.get("next", "/")))


async def login(request: web.Request) -> web.Response:
    form = await request.post()
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    next_url = _safe_next(str(form.get("next", "/")))
    async with request.app[DB]() as db:
        user = await db.scalar(select(User).where(User.username == username, User.active))
        ok = user is not None and password_matches(user.password_hash, password)
        audit(db, action="login", target=f"username:{username[:100]}",
              outcome="allowed" if ok else "denied", user=user if ok else None,
              request=request)  # fmt: skip
        await db.commit()
    if not ok or user is None:
        return await _login_form(
            request, next_url, "Sai tên đăng nhập hoặc mật khẩu.", username[:100], status=401
        )
    await log_in(request, user)
    raise web.HTTPSeeOther(next_url)


async def logout(request: web.Request) -> web.Response:
    await log_out(request)
    raise web.HTTPSeeOther("/login")


def launch_url(settings: Settings, user_id: int, session: ReceptionSession) -> str:
    """The user's personal launch link for one session occurrence."""
    secret = settings.security.secret_key.get_secret_value()
    opens, closes = launch_window(
        session.starts_at,
        session.ends_at,
        opens_before=timedelta(minutes=settings.web.launch_opens_before_min),
    )
    # Issued "at" the window's opening, so the same occurrence always gets the same URL and
    # calendar apps do not see a change on every refresh.
    token = sign_launch_token(
        secret, LaunchClaims(user_id, session.id, session.starts_at), opens, closes,
        issued_at=opens,
    )  # fmt: skip
    return f"{settings.web.public_url.rstrip('/')}/launch/{token}"


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
            await db.rollback()
            return await _launch_refused(
                request, user, "status",
                f"Phiên tiếp này {status_vi(session.status)}, không thể vào phòng.",
            )  # fmt: skip
        session.room_name = await ensure_room(request.app[LIVEKIT], session)
        if session.status == SessionStatus.SCHEDULED:
            session.status = SessionStatus.LIVE
        if await db.get(RecordingRequest, session.id) is None:
            db.add(RecordingRequest(session_id=session.id, room_name=session.room_name))
        audit(db, action="session.launch", target=f"session:{session.id}", user=user,
              request=request, room=session.room_name)  # fmt: skip
        await db.commit()
    raise web.HTTPSeeOther(f"/sessions/{session.id}/join")


async def _launch_refused(
    request: web.Request, user: User, reason: str, message: str
) -> web.Response:
    async with request.app[DB]() as db:
        audit(db, action="session.launch", target=request.path[:100], outcome="denied",
              user=user, request=request, reason=reason)  # fmt: skip
        await db.commit()
    return error_page(403, "Không vào được phiên tiếp", message)


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
                f"Phiên tiếp này {status_vi(session.status)}. "
                "Hãy mở phiên bằng liên kết trong lịch của bạn.",
            )  # fmt: skip
        kind = invited.kind if invited else _participant_kind(user, session)
        audit(db, action="session.join", target=f"session:{session.id}", user=user,
              request=request, kind=kind.value)  # fmt: skip
        await db.commit()
    return _join_page(
        request, session, identity=f"user-{user.id}", display_name=user.display_name,
        kind=kind, connection_point=user.agency.name,
    )  # fmt: skip


def _join_page(
    request: web.Request,
    session: ReceptionSession,
    *,
    identity: str,
    display_name: str,
    kind: ParticipantKind,
    connection_point: str,
) -> web.Response:
    assert session.room_name is not None
    settings = request.app[SETTINGS]
    token = participant_token(
        settings, session, identity=identity, display_name=display_name, kind=kind,
        connection_point=connection_point,
    )  # fmt: skip
    page = render_join_page(
        JoinPageConfig(
            livekit_url=settings.livekit.url,
            token=token,
            room_name=session.room_name,
            display_name=display_name,
            connection_point=connection_point,
            session_title=session.title,
            leave_url="/",
        )  # fmt: skip
    )
    return web.Response(text=page, content_type="text/html")


async def guest_join(request: web.Request) -> web.Response:
    """``/join/{token}``: an invited citizen's or connection point's personal link."""
    async with request.app[DB]() as db:
        invitation = await db.scalar(
            select(Invitation).where(Invitation.join_token == request.match_info["token"])
        )
        if invitation is None:
            return error_page(404, "Liên kết không đúng",
                              "Liên kết vào phiên không đúng hoặc đã bị thu hồi.")  # fmt: skip
        session = await db.get(ReceptionSession, invitation.session_id)
        assert session is not None
        if session.status != SessionStatus.LIVE or session.room_name is None:
            return error_page(
                409, "Phiên chưa mở",
                f"Phiên tiếp này {status_vi(session.status)}. Phiên bắt đầu lúc "
                f"{format_local(session.starts_at)}; hãy mở lại liên kết khi phiên đã bắt đầu.",
            )  # fmt: skip
        point = await db.get(ConnectionPoint, invitation.connection_point_id or -1)
        audit(db, action="session.join", target=f"session:{session.id}", request=request,
              kind=invitation.kind.value, identity=invitation.identity)  # fmt: skip
        await db.commit()
    return _join_page(
        request, session, identity=invitation.identity, display_name=invitation.display_name,
        kind=invitation.kind, connection_point=point.name if point else invitation.display_name,
    )  # fmt: skip


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


async def livekit_webhook(request: web.Request) -> web.Response:
    """Signed room events from LiveKit (forged → 401, duplicate → 200 without change)."""
    receiver = webhook_receiver(request.app[SETTINGS])
    event = parse_event(receiver, await request.text(), request.headers.get("Authorization", ""))
    ended = await apply_event(request.app[DB], event)
    if ended is not None:
        await session_ended(request.app, ended)
    return web.json_response({"ok": True})


def add_routes(app: web.Application) -> None:
    """Register the pages."""
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/launch/{token}", launch)
    app.router.add_get("/sessions/{id}/join", join)
    app.router.add_get("/join/{token}", guest_join)
    app.router.add_get("/calendar/{token}.ics", calendar_feed)
    app.router.add_post("/livekit/webhook", livekit_webhook)
