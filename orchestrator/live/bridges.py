"""Bridges: which session rooms are relayed into which hub rooms, and which agent runs each.

A media agent takes bridges under a lease, as it takes recordings
(:mod:`orchestrator.live.recordings`): it renews them by heartbeat, reports which of them run,
and another agent takes over a bridge whose lease has expired. A bridge ends when deleted or
when its session is no longer live.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from livekit import api
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from media.assignments import BridgeAssignment
from orchestrator.core.errors import Conflict, Unprocessable
from orchestrator.core.vocabulary import SessionStatus, Tier
from orchestrator.db.models import Bridge, ReceptionSession
from orchestrator.live.schemas import BridgeCreate, BridgeOut, BridgeState

CENTRAL_HALL = "Ban Tiếp công dân Trung ương"
LEASE_TTL = timedelta(seconds=10)
# A bridge last reported running longer ago than this shows as waiting again.
RUNNING_FRESH = timedelta(seconds=6)

_active = Bridge.ended_at.is_(None)


def to_out(bridge: Bridge, session_room: str, now: datetime) -> BridgeOut:
    """The API view of a bridge."""
    if bridge.ended_at is not None:
        state = BridgeState.ENDED
    elif bridge.running_at is not None and now - bridge.running_at <= RUNNING_FRESH:
        state = BridgeState.RUNNING
    else:
        state = BridgeState.WAITING
    return BridgeOut(
        id=bridge.id, session_id=bridge.session_id, central_room=bridge.hub_room,
        session_room=session_room, hub_name=bridge.hub_name, session_name=bridge.session_name,
        video=bridge.video, talk_back=bridge.talk_back, state=state,
        created_at=bridge.created_at, ended_at=bridge.ended_at, end_reason=bridge.end_reason,
    )  # fmt: skip


def side_name(session: ReceptionSession) -> str:
    """How a session's side shows in its hub room: its province, or its commune office."""
    agency = session.agency
    return agency.province.name if agency.tier is Tier.PROVINCE else agency.name


async def new_bridge(
    db: AsyncSession,
    lkapi: api.LiveKitAPI,
    session: ReceptionSession,
    body: BridgeCreate,
    user_id: int,
    now: datetime,
) -> Bridge:
    """Check and add a bridge of live ``session`` into ``body.central_room``.

    Raises:
        Conflict: the session is not live, or is already bridged into that room.
        Unprocessable: the room is the session's own, or it does not exist.
    """
    if session.status is not SessionStatus.LIVE or session.room_name is None:
        raise Conflict("Phiên tiếp chưa diễn ra hoặc đã kết thúc, không thể nối cầu.")
    if body.central_room == session.room_name:
        raise Unprocessable("Không thể nối một phòng với chính nó.")
    duplicate = await db.scalar(
        select(Bridge.id).where(
            _active, Bridge.session_id == session.id, Bridge.hub_room == body.central_room
        )
    )
    if duplicate is not None:
        raise Conflict(f"Phiên này đã được nối vào phòng đó (cầu nối số {duplicate}).")
    listed = await lkapi.room.list_rooms(api.ListRoomsRequest(names=[body.central_room]))
    if not listed.rooms:
        raise Unprocessable(f"Không có phòng {body.central_room!r} đang mở.")
    hub_session = await db.scalar(
        select(ReceptionSession).where(ReceptionSession.room_name == body.central_room)
    )
    hub_name = (
        hub_session.agency.name
        if hub_session is not None and hub_session.agency.tier is not Tier.CENTRAL
        else CENTRAL_HALL
    )
    bridge = Bridge(
        session_id=session.id, hub_room=body.central_room, hub_name=hub_name,
        session_name=side_name(session), video=body.video, talk_back=False, created_by=user_id,
        created_at=now,
    )  # fmt: skip
    db.add(bridge)
    await db.flush()
    if body.talk_back:
        await set_talk_back(db, bridge, True, exclusive=body.exclusive)
    return bridge


async def set_talk_back(
    db: AsyncSession, bridge: Bridge, on: bool, *, exclusive: bool
) -> list[int]:
    """Switch talk-back; with ``exclusive``, off on the hub's other bridges. Returns their ids."""
    switched_off: list[int] = []
    if on and exclusive:
        others = await db.scalars(
            select(Bridge).where(
                _active,
                Bridge.hub_room == bridge.hub_room,
                Bridge.id != bridge.id,
                Bridge.talk_back,
            )  # fmt: skip
        )
        for other in others:
            other.talk_back = False
            switched_off.append(other.id)
    bridge.talk_back = on
    return switched_off


def end_bridge(bridge: Bridge, reason: str, now: datetime) -> None:
    """End a bridge: its agent leaves both rooms at its next heartbeat."""
    bridge.ended_at = now
    bridge.end_reason = reason[:200]
    bridge.talk_back = False


async def end_bridges_of_finished_sessions(db: AsyncSession, now: datetime) -> None:
    """A bridge ends with its session."""
    not_live = select(ReceptionSession.id).where(ReceptionSession.status != SessionStatus.LIVE)
    await db.execute(
        update(Bridge)
        .where(_active, Bridge.session_id.in_(not_live))
        .values(ended_at=now, end_reason="session ended", talk_back=False)
        .execution_options(synchronize_session=False)
    )


async def release(db: AsyncSession, agent_id: str) -> int:
    """Hand back ``agent_id``'s bridge leases (it is shutting down); how many it held."""
    result = await db.execute(
        update(Bridge)
        .where(Bridge.agent_id == agent_id, _active)
        .values(agent_id=None, running_at=None)
    )
    return int(cast(CursorResult[Any], result).rowcount)


async def active_bridges(db: AsyncSession) -> Sequence[tuple[Bridge, str]]:
    """Every bridge not ended, with its session's room."""
    rows = await db.execute(
        select(Bridge, ReceptionSession.room_name)
        .join(ReceptionSession, ReceptionSession.id == Bridge.session_id)
        .where(_active)
        .order_by(Bridge.id)
    )
    return [(b, room or "") for b, room in rows]


async def heartbeat(
    db: AsyncSession, agent_id: str, capacity: int, running: Sequence[int], now: datetime
) -> list[BridgeAssignment]:
    """Renew ``agent_id``'s bridge leases, take free or expired ones up to ``capacity``, note
    which run, and list the agent's bridges."""
    await end_bridges_of_finished_sessions(db, now)
    mine = and_(Bridge.agent_id == agent_id, _active)
    await db.execute(update(Bridge).where(mine).values(lease_expires_at=now + LEASE_TTL))
    if running:
        await db.execute(update(Bridge).where(mine, Bridge.id.in_(running)).values(running_at=now))
    held = await db.scalar(select(func.count()).select_from(Bridge).where(mine)) or 0
    free = and_(_active, or_(Bridge.agent_id.is_(None), Bridge.lease_expires_at < now))
    candidates = await db.scalars(
        select(Bridge.id).where(free).order_by(Bridge.id).limit(max(capacity - held, 0))
    )
    for bridge_id in list(candidates):
        # Compare-and-set: of two agents racing for one bridge, one updates the row.
        await db.execute(
            update(Bridge)
            .where(Bridge.id == bridge_id, free)
            .values(agent_id=agent_id, lease_expires_at=now + LEASE_TTL, running_at=None)
        )
    rows = await db.execute(
        select(Bridge, ReceptionSession.room_name)
        .join(ReceptionSession, ReceptionSession.id == Bridge.session_id)
        .where(mine)
        .order_by(Bridge.id)
    )
    return [
        BridgeAssignment(
            b.id, b.hub_room, b.hub_name, room or "", b.session_name, b.talk_back, b.video
        )
        for b, room in rows
    ]
