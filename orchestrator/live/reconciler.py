"""Repairs what lost webhooks and lost messages would leave wrong: ended rooms, unseen
participants, and pipeline starts no worker received (the outbox's sweeper), every few seconds
in the orchestrator (:func:`reconciler`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web
from livekit import api
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from orchestrator.core.vocabulary import SessionStatus
from orchestrator.db.models import Attendance, ReceptionSession
from orchestrator.live.session_end import end_session, resend_stalled, send_started, start_pipeline
from orchestrator.live.webhooks import record_attendance
from orchestrator.web.app_keys import DB, LIVEKIT

log = logging.getLogger(__name__)
LIVEKIT_TIMEOUT_S = 10


async def reconcile_once(
    db_factory: async_sessionmaker[AsyncSession], lkapi: api.LiveKitAPI
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
        ended = []
        for session in live:
            if session.room_name not in rooms:
                if await end_session(db, session.id, "room gone (reconciler)"):
                    log.warning("session %s: room gone, ended by reconciler", session.id)
                    if await start_pipeline(db, session.id):
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


Sweep = Callable[[web.Application], Awaitable[object]]


async def _pass(app: web.Application, sweeps: tuple[Sweep, ...]) -> None:
    try:
        await send_started(app, *await reconcile_once(app[DB], app[LIVEKIT]))
    finally:
        # Even with LiveKit unreachable, the pipelines of ended sessions are started and kept
        # moving.
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
