"""Repairs what lost webhooks would leave wrong: ended rooms and unseen participants."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from livekit import api
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from orchestrator.core.vocabulary import SessionStatus
from orchestrator.db.models import Attendance, ReceptionSession
from orchestrator.live.recordings import claim_pipeline_start
from orchestrator.live.webhooks import end_session, record_attendance

log = logging.getLogger(__name__)
LIVEKIT_TIMEOUT_S = 10


async def reconcile_once(
    db_factory: async_sessionmaker[AsyncSession], lkapi: api.LiveKitAPI
) -> list[int]:
    """Compare live sessions with LiveKit's rooms once; return ids of sessions it ended whose
    pipeline may start now."""
    async with db_factory() as db:
        live = (
            await db.scalars(
                select(ReceptionSession).where(ReceptionSession.status == SessionStatus.LIVE)
            )
        ).all()
        if not live:
            return []
        listed = await asyncio.wait_for(
            lkapi.room.list_rooms(api.ListRoomsRequest()), LIVEKIT_TIMEOUT_S
        )
        rooms = {room.name for room in listed.rooms}
        ended = []
        for session in live:
            if session.room_name not in rooms:
                if end_session(session, "room gone (reconciler)"):
                    log.warning("session %s: room gone, ended by reconciler", session.id)
                    if await claim_pipeline_start(db, session.id):
                        ended.append(session.id)
                continue
            await _repair_attendance(db, lkapi, session)
        await db.commit()
    return ended


async def _repair_attendance(
    db: AsyncSession, lkapi: api.LiveKitAPI, session: ReceptionSession
) -> None:
    assert session.room_name is not None
    listed = await asyncio.wait_for(
        lkapi.room.list_participants(api.ListParticipantsRequest(room=session.room_name)),
        LIVEKIT_TIMEOUT_S,
    )
    present = set()
    for p in listed.participants:
        present.add(p.sid)
        await record_attendance(
            db, session.id, sid=p.sid, identity=p.identity, name=p.name,
            joined_at=datetime.fromtimestamp(p.joined_at, UTC),
        )  # fmt: skip
    open_rows = await db.scalars(
        select(Attendance).where(Attendance.session_id == session.id, Attendance.left_at.is_(None))
    )
    for row in open_rows:
        if row.participant_sid not in present:
            row.left_at = datetime.now(UTC)
