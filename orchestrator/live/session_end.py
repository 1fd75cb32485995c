"""The end of a session, in one place: when a session has ended, and how its pipeline starts.

A live session ends when its room finishes (LiveKit's webhook), when its room is found gone (the
reconciler) or when the chair ends it. Its pipeline starts once the session has ended *and* its
recording is complete (or none was asked for), whichever is noticed last: the end, or the
recorder's report that the recording is finalized.

Starting the pipeline is a transactional outbox. The move to ``processing`` and the
:class:`~orchestrator.db.models.PipelineOutbox` row that says "enqueue the pipeline" are written
in the caller's one commit; after it, :func:`send_started` sends the task by name and marks the
row sent; the worker acknowledges it once the session's jobs are enqueued. A crash between the
commit and the send, a broker that was down or lost the message, leaves a row that
:func:`resend_stalled` (the sweeper, run with the reconciler) sends again.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Final

from aiohttp import web
from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.core.faults import kill_if_asked
from orchestrator.core.lifecycle import move
from orchestrator.core.vocabulary import SessionStatus
from orchestrator.db.locking import locked_session
from orchestrator.db.models import PipelineOutbox, ReceptionSession, RecordingRequest
from orchestrator.web.app_keys import DB, ENQUEUE, SETTINGS
from transcription.celery_app import TaskName

log = logging.getLogger(__name__)

# Whoever wrote an outbox row sends it within moments of its commit; the sweeper leaves it alone
# this long so that it is not sent twice.
UNSENT_GRACE: Final = timedelta(seconds=10)
# A send waits no longer than this for the broker: the request that ended the session (a media
# agent's report gives up after 10 s) is answered well before, and the outbox row is sent later.
SEND_TIMEOUT_S: Final = 3.0
# The test-only fault point (``faults.kill_at``) between the commit and the send.
COMMITTED: Final = "session_end.committed"


async def end_session(db: AsyncSession, session_id: int, reason: str) -> bool:
    """Move a live session to ended, with ``reason``; False when it was not live (nothing to do).

    The caller then tries :func:`start_pipeline` in the same transaction.
    """
    session = await locked_session(db, session_id)
    if session is None or session.status is not SessionStatus.LIVE:
        return False
    move(session, SessionStatus.ENDED, reason)
    return True


async def start_pipeline(db: AsyncSession, session_id: int) -> bool:
    """Move an ended session whose recording is complete (or was never asked for) to
    ``processing`` and write its outbox row; True for the one caller that did, which sends it
    with :func:`send_started` after its commit."""
    session = await locked_session(db, session_id)
    if session is None or session.status is not SessionStatus.ENDED:
        return False
    recording_pending = await db.scalar(
        select(
            exists().where(
                RecordingRequest.session_id == session_id, RecordingRequest.completed_at.is_(None)
            )
        )
    )
    if recording_pending:
        return False
    move(session, SessionStatus.PROCESSING)
    db.add(PipelineOutbox(session_id=session_id, created_at=datetime.now(UTC), sends=0))
    return True


async def send_started(app: web.Application, *session_ids: int) -> None:
    """After the commit that started their pipelines: send each, and mark it sent. A send that
    fails is logged and left to the sweeper (the session's state has already moved on)."""
    if not session_ids:
        return
    kill_if_asked(app[SETTINGS], COMMITTED)
    for session_id in session_ids:
        await _send(app, session_id)


async def _send(app: web.Application, session_id: int) -> None:
    log.info("session %s: enqueueing the pipeline", session_id, extra={"session": session_id})
    try:
        await asyncio.wait_for(app[ENQUEUE](TaskName.SESSION_ENDED, session_id), SEND_TIMEOUT_S)
    except Exception as e:  # noqa: BLE001 - the broker failed in any way: the sweeper resends
        log.exception("session %s: the pipeline could not be enqueued", session_id)
        sent: dict[str, object] = {"last_error": repr(e)[:2000]}
    else:
        sent = {"sent_at": datetime.now(UTC), "sends": PipelineOutbox.sends + 1}
    async with app[DB]() as db:
        await db.execute(
            update(PipelineOutbox).where(PipelineOutbox.session_id == session_id).values(**sent)
        )
        await db.commit()


async def stalled(db: AsyncSession, now: datetime, unacknowledged: timedelta) -> list[int]:
    """Sessions in ``processing`` whose pipeline start no worker has acknowledged: never sent
    (and past :data:`UNSENT_GRACE`), or sent longer than ``unacknowledged`` ago (the
    pipeline's ``stale_after_s``: a start waits in the transcribe queue behind other sessions'
    tracks, and a broker restarted empty lost it)."""
    rows = await db.scalars(
        select(PipelineOutbox.session_id)
        .join(ReceptionSession, ReceptionSession.id == PipelineOutbox.session_id)
        .where(
            ReceptionSession.status == SessionStatus.PROCESSING,
            PipelineOutbox.acked_at.is_(None),
            or_(
                and_(
                    PipelineOutbox.sent_at.is_(None),
                    PipelineOutbox.created_at <= now - UNSENT_GRACE,
                ),
                PipelineOutbox.sent_at <= now - unacknowledged,
            ),
        )
        .order_by(PipelineOutbox.session_id)
    )
    return list(rows)


async def resend_stalled(app: web.Application) -> list[int]:
    """The sweeper: send every stalled pipeline start again; the sessions it sent."""
    unacknowledged = timedelta(seconds=app[SETTINGS].pipeline.stale_after_s)
    async with app[DB]() as db:
        session_ids = await stalled(db, datetime.now(UTC), unacknowledged)
    for session_id in session_ids:
        log.warning("session %s: pipeline start not acknowledged; sending it again", session_id)
        await _send(app, session_id)
    return session_ids
