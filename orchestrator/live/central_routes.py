"""The central observers' JSON API: bridges, listen-in tokens and requests to speak."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime

from aiohttp import web
from livekit import api
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from media.grants import ParticipantKind, grant_for, promoted_observer_grant
from orchestrator.core.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Unauthenticated,
    UpstreamUnavailable,
)
from orchestrator.core.permissions import Action, Actor, can
from orchestrator.core.vocabulary import Role, SessionStatus
from orchestrator.db.audit import actor_of
from orchestrator.db.models import (
    Bridge,
    Province,
    ReceptionSession,
    SpeakRequest,
    User,
)
from orchestrator.live import bridges
from orchestrator.live.board import BOARD, KEEPALIVE_S, LiveBoard
from orchestrator.live.rooms import participant_token
from orchestrator.live.schemas import (
    BridgeCreate,
    BridgeOut,
    BridgeUpdate,
    ListenOut,
    SpeakRequestOut,
)
from orchestrator.scheduling import service as svc
from orchestrator.web.api import Route, commit_audited, parse, path_int, reply, user_of
from orchestrator.web.app_keys import DB, LIVEKIT, SETTINGS, USER
from orchestrator.web.auth import now_utc
from orchestrator.web.html import error_page, html_page
from orchestrator.web.router import Page

PENDING, APPROVED, DECLINED, REVOKED = "pending", "approved", "declined", "revoked"
NO_BRIDGE = "Không có cầu nối này."
NO_SPEAK_REQUEST = "Không có yêu cầu phát biểu này."


def observer_identity(user: User) -> str:
    """The LiveKit identity a user listens in with (the same as on the join page)."""
    return f"user-{user.id}"


# --- bridges -------------------------------------------------------------------------------


_PROVINCE = re.compile(r"^[a-z0-9-]{1,32}$")


async def _bridge(db: AsyncSession, request: web.Request) -> tuple[Bridge, ReceptionSession]:
    """The bridge of the path, if the caller may manage bridges of its session."""
    user = user_of(request)
    bridge = await db.get(Bridge, path_int(request, "id"))
    if bridge is None:
        raise NotFound(NO_BRIDGE)
    session = await svc.get_session(
        db, actor_of(user), bridge.session_id, Action.MANAGE_BRIDGES, missing=NO_BRIDGE
    )
    return bridge, session


async def create_bridge(request: web.Request) -> web.Response:
    user = user_of(request)
    body = await parse(request, BridgeCreate)
    now = now_utc()
    async with request.app[DB]() as db:
        session = await svc.get_session(db, actor_of(user), body.session_id, Action.MANAGE_BRIDGES)
        bridge = await bridges.new_bridge(db, request.app[LIVEKIT], session, body, user.id, now)
        await commit_audited(request, db, action="bridge.create", target=f"bridge:{bridge.id}",
                             session=session.id, hub_room=bridge.hub_room,
                             talk_back=bridge.talk_back)  # fmt: skip
        return reply(bridges.to_out(bridge, session.room_name or "", now), status=201)


async def list_bridges(request: web.Request) -> web.Response:
    user = user_of(request)
    actor = actor_of(user)
    now = now_utc()
    async with request.app[DB]() as db:
        await bridges.end_bridges_of_finished_sessions(db, now)
        await db.commit()
        out = []
        for bridge, room in await bridges.active_bridges(db):
            session = await db.get(ReceptionSession, bridge.session_id)
            if session is not None and can(actor, Action.MANAGE_BRIDGES, svc.scope_of(session)):
                out.append(bridges.to_out(bridge, room, now))
        return reply(out)


async def update_bridge(request: web.Request) -> web.Response:
    user_of(request)  # 401 before the body is read
    body = await parse(request, BridgeUpdate)
    async with request.app[DB]() as db:
        bridge, session = await _bridge(db, request)
        if bridge.ended_at is not None:
            raise Conflict("Cầu nối đã kết thúc.")
        off = await bridges.set_talk_back(db, bridge, body.talk_back, exclusive=body.exclusive)
        await commit_audited(request, db, action="bridge.talk_back", target=f"bridge:{bridge.id}",
                             on=body.talk_back, switched_off=off)  # fmt: skip
        return reply(bridges.to_out(bridge, session.room_name or "", now_utc()))


async def delete_bridge(request: web.Request) -> web.Response:
    user = user_of(request)
    now = now_utc()
    async with request.app[DB]() as db:
        bridge, session = await _bridge(db, request)
        if bridge.ended_at is None:
            bridges.end_bridge(bridge, f"deleted by {user.username}", now)
            await commit_audited(request, db, action="bridge.delete", target=f"bridge:{bridge.id}")
        return reply(bridges.to_out(bridge, session.room_name or "", now))


# --- listen-in -----------------------------------------------------------------------------


async def listen_in(request: web.Request) -> web.Response:
    """A hidden, listen-only token for a live session's room (audited)."""
    user = user_of(request)
    async with request.app[DB]() as db:
        session = await svc.get_session(
            db, actor_of(user), path_int(request, "id"), Action.LISTEN_IN
        )
        if session.status is not SessionStatus.LIVE or session.room_name is None:
            raise Conflict("Phiên tiếp không đang diễn ra.")
        await commit_audited(request, db, action="session.listen_in",
                             target=f"session:{session.id}", room=session.room_name)  # fmt: skip
    token = participant_token(
        request.app[SETTINGS], session, identity=observer_identity(user),
        display_name=user.display_name, kind=ParticipantKind.CENTRAL_OBSERVER,
        connection_point=user.agency.name,
    )  # fmt: skip
    return reply(
        ListenOut(livekit_url=request.app[SETTINGS].livekit.browser_url, room=session.room_name,
                  identity=observer_identity(user), token=token)
    )  # fmt: skip


# --- requests to speak ---------------------------------------------------------------------


def _speak_out(row: SpeakRequest, user: User | None) -> SpeakRequestOut:
    return SpeakRequestOut(
        id=row.id, session_id=row.session_id, user_id=row.user_id,
        display_name=user.display_name if user else "", identity=row.identity, state=row.state,
        requested_at=row.requested_at, decided_at=row.decided_at,
    )  # fmt: skip


async def ask_to_speak(request: web.Request) -> web.Response:
    """A listening central observer asks the chair for the floor."""
    user = user_of(request)
    async with request.app[DB]() as db:
        session = await svc.get_session(
            db, actor_of(user), path_int(request, "id"), Action.LISTEN_IN
        )
        if session.status is not SessionStatus.LIVE:
            raise Conflict("Phiên tiếp không đang diễn ra.")
        open_one = await db.scalar(
            select(SpeakRequest).where(
                SpeakRequest.session_id == session.id,
                SpeakRequest.user_id == user.id,
                SpeakRequest.state.in_([PENDING, APPROVED]),
            )  # fmt: skip
        )
        if open_one is not None:
            raise Conflict("Bạn đã xin phát biểu trong phiên này.")
        row = SpeakRequest(
            session_id=session.id, user_id=user.id, identity=observer_identity(user),
            state=PENDING, requested_at=now_utc(),
        )  # fmt: skip
        db.add(row)
        await db.flush()
        await commit_audited(request, db, action="speak.request", target=f"session:{session.id}",
                             request_id=row.id)  # fmt: skip
        return reply(_speak_out(row, user), status=201)


async def list_speak_requests(request: web.Request) -> web.Response:
    user = user_of(request)
    async with request.app[DB]() as db:
        session = await svc.get_session(db, actor_of(user), path_int(request, "id"))
        rows = await db.execute(
            select(SpeakRequest, User)
            .join(User, User.id == SpeakRequest.user_id)
            .where(SpeakRequest.session_id == session.id)
            .order_by(SpeakRequest.id)
        )
        return reply([_speak_out(r, u) for r, u in rows])


async def _set_permission(request: web.Request, room: str, identity: str, speak: bool) -> None:
    grant = promoted_observer_grant() if speak else grant_for(ParticipantKind.CENTRAL_OBSERVER)
    permission = api.ParticipantPermission(
        can_subscribe=grant.can_subscribe, can_publish=grant.can_publish,
        can_publish_data=grant.can_publish_data, hidden=grant.hidden,
        can_publish_sources=_sources(grant.can_publish_sources),
        can_update_metadata=grant.can_update_own_metadata,
    )  # fmt: skip
    try:
        await request.app[LIVEKIT].room.update_participant(
            api.UpdateParticipantRequest(room=room, identity=identity, permission=permission)
        )
    except api.TwirpError as e:
        if e.code == api.TwirpErrorCode.NOT_FOUND:
            raise Conflict("Người xin phát biểu hiện không ở trong phòng.") from e
        raise UpstreamUnavailable("Máy chủ LiveKit không trả lời; hãy thử lại.") from e


def _sources(names: tuple[str, ...] | None) -> list[api.TrackSource]:
    by_name = {"camera": api.TrackSource.CAMERA, "microphone": api.TrackSource.MICROPHONE,
               "screen_share": api.TrackSource.SCREEN_SHARE,
               "screen_share_audio": api.TrackSource.SCREEN_SHARE_AUDIO}  # fmt: skip
    return [by_name[n] for n in names or ()]


async def _decide(request: web.Request, allowed_from: str, to: str) -> web.Response:
    """Move a request to speak from ``allowed_from`` to ``to`` (chair or officer), applying the
    participant's new permission in the room first."""
    user = user_of(request)
    async with request.app[DB]() as db:
        row = await db.get(SpeakRequest, path_int(request, "id"))
        if row is None:
            raise NotFound(NO_SPEAK_REQUEST)
        session = await svc.get_session(
            db, actor_of(user), row.session_id, missing=NO_SPEAK_REQUEST
        )
        if not can(actor_of(user), Action.LAUNCH_SESSION, svc.scope_of(session)):
            raise Forbidden("Chỉ người chủ trì hoặc cán bộ của phiên được quyết định việc này.")
        if row.state != allowed_from:
            raise Conflict(f"Yêu cầu đang ở trạng thái {row.state}, không thể chuyển sang {to}.")
        if to in (APPROVED, REVOKED) and session.room_name:
            await _set_permission(request, session.room_name, row.identity, to == APPROVED)
        row.state, row.decided_by, row.decided_at = to, user.id, datetime.now(UTC)
        await commit_audited(request, db, action=f"speak.{to}", target=f"session:{session.id}",
                             request_id=row.id, identity=row.identity)  # fmt: skip
        asker = await db.get(User, row.user_id)
        return reply(_speak_out(row, asker))


async def approve_speak(request: web.Request) -> web.Response:
    return await _decide(request, PENDING, APPROVED)


async def decline_speak(request: web.Request) -> web.Response:
    return await _decide(request, PENDING, DECLINED)


async def revoke_speak(request: web.Request) -> web.Response:
    return await _decide(request, APPROVED, REVOKED)


ROUTES = [
    Route("GET", "/bridges", list_bridges, "Active bridges (central observers, admins)",
          response=list[BridgeOut]),
    Route("POST", "/bridges", create_bridge, "Bridge a live session into a central room",
          body=BridgeCreate, response=BridgeOut, status=201),
    Route("PATCH", "/bridges/{id}", update_bridge, "Talk-back on or off", body=BridgeUpdate,
          response=BridgeOut),
    Route("DELETE", "/bridges/{id}", delete_bridge, "End a bridge", response=BridgeOut),
    Route("POST", "/sessions/{id}/listen", listen_in,
          "A hidden, listen-only LiveKit token for a live session (central observers)",
          response=ListenOut),
    Route("GET", "/sessions/{id}/speak-requests", list_speak_requests,
          "Requests to speak in a session", response=list[SpeakRequestOut]),
    Route("POST", "/sessions/{id}/speak-requests", ask_to_speak,
          "A listening central observer asks to speak", response=SpeakRequestOut, status=201),
    Route("POST", "/speak-requests/{id}/approve", approve_speak,
          "Chair or officer: grant the microphone and show the observer",
          response=SpeakRequestOut),
    Route("POST", "/speak-requests/{id}/decline", decline_speak, "Decline a request to speak",
          response=SpeakRequestOut),
    Route("POST", "/speak-requests/{id}/revoke", revoke_speak,
          "Take the microphone back and hide the observer again", response=SpeakRequestOut),
]  # fmt: skip


def _central_user(request: web.Request) -> User:
    user: User | None = request[USER]
    if user is None:
        raise Unauthenticated("Cần đăng nhập.")
    if user.role not in (Role.CENTRAL_OBSERVER, Role.ADMIN):
        raise Forbidden("Trang này dành cho Ban Tiếp công dân Trung ương.")
    return user


async def dashboard(request: web.Request) -> web.Response:
    """``/central``: the page; its script follows ``/central/events``."""
    if request[USER] is None:
        raise web.HTTPSeeOther("/login?next=/central")
    try:
        user = _central_user(request)
    except Forbidden as e:
        return error_page(403, "Không có quyền", e.detail)
    async with request.app[DB]() as db:
        provinces = list(await db.scalars(select(Province).order_by(Province.name)))
    return html_page(
        "central.html", user=user,
        provinces=[(p.code, p.name) for p in provinces if p.code != "tw"],
    )  # fmt: skip


async def events(request: web.Request) -> web.StreamResponse:
    """``/central/events[?province=code]``: the board as server-sent events, on every change."""
    actor = actor_of(_central_user(request))
    province = request.query.get("province") or None
    if province is not None and not _PROVINCE.match(province):
        raise BadRequest(f"Mã tỉnh không hợp lệ: {province!r}.")
    board = request.app[BOARD]
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }  # fmt: skip
    )
    await response.prepare(request)
    board.viewers += 1
    board.wake()
    try:
        await _stream(response, board, actor, province)
    finally:
        board.viewers -= 1
    return response


async def _stream(
    response: web.StreamResponse, board: LiveBoard, actor: Actor, province: str | None
) -> None:
    """Write the caller's view of the board each time *that view* changes, numbered by this
    stream, and a keep-alive every :data:`KEEPALIVE_S` of silence counted from the last write:
    a change the caller may not see (a restricted session ending, say) shows in nothing it
    receives, neither as an event nor as the time of the next keep-alive."""
    loop = asyncio.get_running_loop()
    seen, sent, shown = -1, 0, None
    quiet_until = loop.time() + KEEPALIVE_S
    while not board.closing:
        seen = await board.wait_newer(seen, max(0.0, quiet_until - loop.time()))
        view = [
            r.view
            for r in board.rows
            if (province is None or r.province_code == province)
            and can(actor, Action.VIEW_SESSION, r.scope)
        ]
        if view != shown:
            shown, sent = view, sent + 1
            data = json.dumps({"version": sent, "sessions": view}, ensure_ascii=False)
            await response.write(f"data: {data}\n\n".encode())
        elif loop.time() >= quiet_until:
            await response.write(b": keep-alive\n\n")
        else:
            continue
        quiet_until = loop.time() + KEEPALIVE_S


PAGES = [Page("GET", "/central", dashboard), Page("GET", "/central/events", events)]
