"""Repairs what lost webhooks and lost messages would leave wrong: rooms the SFU lost, unseen
participants, and pipeline starts no worker received (the outbox's sweeper), every few seconds
in the orchestrator (:func:`reconciler`).

A live session's room that is missing from LiveKit (livekit-server restarted, or the room
closed and its webhook was lost) is an incident, not an end: the reconciler stamps
``room_lost_at``, recreates the room at once so that clients and the recorder can rejoin it, and
clears the stamp when someone is back. Only a room with nobody but the recorder in it
``livekit.room_lost_grace_s`` after the loss ends the session, with :data:`ROOM_LOST` as its
reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final, cast

from aiohttp import web
from livekit import api
from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from media.grants import ParticipantKind
from media.speaker_watch import MONITOR_KIND
from orchestrator.core.vocabulary import SessionStatus
from orchestrator.db.audit import audit
from orchestrator.db.models import Attendance, ReceptionSession
from orchestrator.live.rooms import LIVEKIT_TIMEOUT_S, close_room, ensure_room
from orchestrator.live.session_end import end_session, resend_stalled, send_started, start_pipeline
from orchestrator.live.webhooks import record_attendance
from orchestrator.web.app_keys import DB, LIVEKIT, SETTINGS

log = logging.getLogger(__name__)
# The status reason of a session ended because its lost room stayed empty.
ROOM_LOST: Final = "room_lost"
# Participants the system itself puts in a room: they rejoin on their own, so their presence
# says nothing about whether the session goes on.
_OWN_KINDS: Final = frozenset({ParticipantKind.RECORDER, ParticipantKind.BRIDGE, MONITOR_KIND})


async def reconcile_once(
    db_factory: async_sessionmaker[AsyncSession], lkapi: api.LiveKitAPI, grace: timedelta
) -> list[int]:
    """Compare live sessions with LiveKit's rooms once; return ids of sessions it ended whose
    pipeline it started (to send after the commit)."""
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
        now = datetime.now(UTC)
        ended, closing = [], []
        for session in live:
            if session.room_name in rooms:
                people = await _repair_attendance(db, lkapi, session)
            else:
                await _recreate_lost_room(db, lkapi, session, now)
                people = 0
            if session.room_lost_at is None:
                continue
            if people:
                log.warning("session %s: room back, %d in it", session.id, people,
                            extra={"session": session.id})  # fmt: skip
                audit(db, action="room.back", target=f"session:{session.id}", people=people)
                session.room_lost_at = None
            elif now - session.room_lost_at >= grace and await end_session(
                db, session.id, f"{ROOM_LOST}: nobody rejoined within {grace.total_seconds():g} s"
            ):
                log.warning("session %s: lost room still empty, session ended", session.id,
                            extra={"session": session.id})  # fmt: skip
                audit(db, action="room.lost_ended", target=f"session:{session.id}")
                closing.append(session.room_name)
                if await start_pipeline(db, session.id):
                    ended.append(session.id)
        await db.commit()
    for name in closing:
        # The recreated room is not left open for an ended session; if this fails, LiveKit
        # closes the empty room itself (its empty timeout).
        assert name is not None
        try:
            await close_room(lkapi, name)
        except Exception:  # noqa: BLE001 - the session has ended either way
            log.exception("closing the lost room %s failed", name)
    return ended


async def _recreate_lost_room(
    db: AsyncSession, lkapi: api.LiveKitAPI, session: ReceptionSession, now: datetime
) -> None:
    """The SFU no longer has the live session's room: stamp the loss (once) and create the room
    again, so that the clients' and the recorder's reconnects find it."""
    if session.room_lost_at is None:
        # Compare-and-set: two passes at once (a second orchestrator, or a pass run by hand)
        # stamp and audit the loss once.
        stamped = await db.execute(
            update(ReceptionSession)
            .where(ReceptionSession.id == session.id, ReceptionSession.room_lost_at.is_(None))
            .values(room_lost_at=now)
            .execution_options(synchronize_session=False)
        )
        await db.refresh(session, ["room_lost_at"])
        if cast(CursorResult[Any], stamped).rowcount == 1:
            log.warning("session %s: room %s lost by LiveKit; recreating it", session.id,
                        session.room_name, extra={"session": session.id})  # fmt: skip
            audit(db, action="room.lost", target=f"session:{session.id}", room=session.room_name)
    await ensure_room(lkapi, session)


async def _repair_attendance(
    db: AsyncSession, lkapi: api.LiveKitAPI, session: ReceptionSession
) -> int:
    """Record who is in the room and who has left it; how many people (not the system's own
    participants) are in it."""
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
    return sum(p.attributes.get("kind") not in _OWN_KINDS for p in listed.participants)


Sweep = Callable[[web.Application], Awaitable[object]]


async def _pass(app: web.Application, sweeps: tuple[Sweep, ...]) -> None:
    grace = timedelta(seconds=app[SETTINGS].livekit.room_lost_grace_s)
    try:
        await send_started(app, *await reconcile_once(app[DB], app[LIVEKIT], grace))
    except Exception:
        # Even with LiveKit unreachable, the pipelines of ended sessions are started and kept
        # moving (not in a `finally`: a pass cancelled by a shutdown stops at once).
        log.exception("reconciling the rooms failed; the sweepers run")
    await resend_stalled(app)
    for sweep in sweeps:
        await sweep(app)


def reconciler(
    interval_s: float, *sweeps: Sweep
) -> Callable[[web.Application], contextlib.AbstractAsyncContextManager[None]]:
    """The reconciler for ``app.cleanup_ctx``: a pass every ``interval_s`` seconds while the app
    runs (after the database, LiveKit and broker contexts it uses), each pass ending with the
    ``sweeps`` the layers above give it (the pipeline's)."""

    @contextlib.asynccontextmanager
    async def running(app: web.Application) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                try:
                    await _pass(app, sweeps)
                except Exception:
                    log.exception("reconciler pass failed; next pass in %ss", interval_s)
                await asyncio.sleep(interval_s)

        task = asyncio.create_task(loop(), name="reconciler")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return running
