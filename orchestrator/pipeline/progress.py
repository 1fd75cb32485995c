"""What the pipeline's jobs read from and write to the database: plan, progress, warnings, and
the end of a session's processing (done, or failed with the session).

Celery tasks are synchronous; :func:`run_db` runs one unit of async database work on the worker
process's one database (:class:`~orchestrator.db.BlockingDatabase`), opened as the process
starts (Celery's ``worker_process_init``) and closed as it exits.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

from celery.signals import worker_process_init, worker_process_shutdown
from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from config import Settings
from orchestrator.core.lifecycle import move
from orchestrator.core.vocabulary import SessionStatus
from orchestrator.db import BlockingDatabase
from orchestrator.db.locking import locked_session
from orchestrator.db.models import (
    PipelineOutbox,
    ProcessingTrack,
    ReceptionSession,
    RecordingRequest,
    SessionProcessing,
)
from orchestrator.pipeline.stages import (
    TRACK_DONE,
    TRACK_FAILED,
    TRACK_PENDING,
    TRACK_RUNNING,
    Due,
    next_stage,
)

T = TypeVar("T")
log = logging.getLogger(__name__)

# Session-level states (SessionProcessing.state).
PLANNED, RUNNING = "planned", "running"
DONE, DONE_WITH_WARNINGS, FAILED = "done", "done_with_warnings", "failed"

_process_db: BlockingDatabase | None = None


def open_process_db(settings: Settings) -> None:
    """Open this process's database (once: opening it again keeps the one it has)."""
    global _process_db
    if _process_db is None:
        _process_db = BlockingDatabase(settings.db.url)


def close_process_db() -> None:
    """Close this process's database, if it has one."""
    global _process_db
    if _process_db is not None:
        db, _process_db = _process_db, None
        db.close()


def open_in_worker_processes(settings: Settings) -> None:
    """Give every worker process its database as it starts, and close it as the process exits."""
    worker_process_init.connect(
        lambda **_: open_process_db(settings), weak=False, dispatch_uid="tiepdan.process_db.open"
    )
    worker_process_shutdown.connect(
        lambda **_: close_process_db(), weak=False, dispatch_uid="tiepdan.process_db.close"
    )


@contextmanager
def process_db(settings: Settings) -> Iterator[None]:
    """This process's database for the block: the one a worker process has, or else one opened
    for the block (the worker's main process, a test, a tool)."""
    opened = _process_db is None
    open_process_db(settings)
    try:
        yield
    finally:
        if opened:
            close_process_db()


def run_db(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one transaction on this process's database, committed when it returns.

    Raises:
        RuntimeError: the process has no database open (:func:`open_process_db`).
    """
    if _process_db is None:
        raise RuntimeError("no database open in this process (open_process_db)")
    return _process_db.run(work)


def _now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def heartbeat(settings: Settings, session_id: int) -> Iterator[None]:
    """While the block runs, a thread marks the session's pipeline alive every
    ``pipeline.heartbeat_s``, on a database of its own (the process's one serves one thread). A
    killed worker stops beating, and the sweeper sends the step again. (A track's own mark is
    its transcription's progress, written every few seconds.)"""
    stop = threading.Event()

    def beat() -> None:
        db: BlockingDatabase | None = None
        try:
            while not stop.wait(settings.pipeline.heartbeat_s):
                try:
                    db = db or BlockingDatabase(settings.db.url)
                    db.run(lambda s: touch(s, session_id))
                except Exception:  # noqa: BLE001 - a missed beat is not the step's failure
                    log.warning("session %s: heartbeat failed", session_id, exc_info=True)
        finally:
            if db is not None:
                db.close()

    thread = threading.Thread(target=beat, name=f"heartbeat-{session_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


@dataclass(frozen=True)
class TrackPlan:
    """A speaker track the pipeline transcribes."""

    track_sid: str
    identity: str
    display_name: str
    audio_s: float


# A session whose pipeline has begun (or ended): the only ones a pipeline job may act on.
PIPELINE_STATUSES = frozenset(
    {SessionStatus.PROCESSING, SessionStatus.FAILED, SessionStatus.ARCHIVED}
)


async def session_status(db: AsyncSession, session_id: int) -> SessionStatus | None:
    """The session's status (None: no such session)."""
    return await db.scalar(select(ReceptionSession.status).where(ReceptionSession.id == session_id))


async def recording_dir(db: AsyncSession, session_id: int) -> Path | None:
    """The directory holding the session's ``recording.json`` (and the pipeline's outputs)."""
    path = await db.scalar(
        select(RecordingRequest.manifest_path).where(RecordingRequest.session_id == session_id)
    )
    return Path(path).parent if path else None


async def session_language(db: AsyncSession, session_id: int) -> str:
    """The language the session is held in."""
    language = await db.scalar(
        select(ReceptionSession.language).where(ReceptionSession.id == session_id)
    )
    return language or "vi"


async def plan(db: AsyncSession, session_id: int, tracks: Sequence[TrackPlan]) -> bool:
    """Create the session's progress rows unless they exist; True if the chain is still to be
    enqueued (a first start, or a start that died before it enqueued)."""
    row = await db.get(SessionProcessing, session_id)
    if row is not None:
        return row.state == PLANNED
    db.add(
        SessionProcessing(
            session_id=session_id, state=PLANNED, steps_done=[], warnings=[], progress_at=_now()
        )
    )
    for t in tracks:
        db.add(
            ProcessingTrack(
                session_id=session_id,
                track_sid=t.track_sid,
                identity=t.identity,
                display_name=t.display_name,
                state=TRACK_PENDING,
                audio_s=t.audio_s,
                done_s=0.0,
                attempts=0,
                completions=0,
            )
        )
    await db.flush()
    return True


async def set_state(
    db: AsyncSession, session_id: int, state: str, error: str | None = None
) -> None:
    """Move the session's processing to ``state``; a final state records when it finished."""
    final = state in (DONE, DONE_WITH_WARNINGS, FAILED)
    await db.execute(
        update(SessionProcessing)
        .where(SessionProcessing.session_id == session_id)
        .values(state=state, error=error, finished_at=_now() if final else None)
    )


async def enqueued(db: AsyncSession, session_id: int) -> None:
    """The session's jobs are enqueued (now, or by an earlier start; or it had nothing to do):
    ``planned`` becomes ``running`` (unless a step already moved it on, which a fast chain on
    another worker may do), and the start is acknowledged, so the outbox sends it no more."""
    await db.execute(
        update(SessionProcessing)
        .where(SessionProcessing.session_id == session_id, SessionProcessing.state == PLANNED)
        .values(state=RUNNING)
    )
    await db.execute(
        update(PipelineOutbox)
        .where(PipelineOutbox.session_id == session_id, PipelineOutbox.acked_at.is_(None))
        .values(acked_at=_now())
    )


async def touch(db: AsyncSession, session_id: int, track_sid: str | None = None) -> None:
    """A sign of life of the session's pipeline (and of the track's transcription): the sweeper
    leaves it alone for another ``pipeline.stale_after_s``. A pipeline that is through, or gave
    up, stays so."""
    await db.execute(
        update(SessionProcessing)
        .where(
            SessionProcessing.session_id == session_id, SessionProcessing.progress_at.is_not(None)
        )
        .values(progress_at=_now())
    )
    if track_sid is not None:
        await db.execute(
            update(ProcessingTrack).where(*_track(session_id, track_sid)).values(updated_at=_now())
        )


async def next_due(db: AsyncSession, session_id: int) -> tuple[Due, ...]:
    """What the session's pipeline runs next (:func:`~orchestrator.pipeline.stages.next_stage`);
    when nothing, the pipeline is marked through, and no sweeper looks at it again."""
    row = await db.get(SessionProcessing, session_id)
    if row is None:
        return ()
    due = next_stage(row.steps_done, await track_states(db, session_id))
    if not due:
        await settle(db, session_id)
    return due


async def track_states(db: AsyncSession, session_id: int) -> dict[str, str]:
    """Each track's state (``ProcessingTrack.state``), by track id."""
    tracks = await db.execute(
        select(ProcessingTrack.track_sid, ProcessingTrack.state).where(
            ProcessingTrack.session_id == session_id
        )
    )
    return dict(tracks.all())


async def settle(db: AsyncSession, session_id: int) -> None:
    """Nothing is left for the session's pipeline to do (or it gave up): no sweeper re-drives
    it. The archive outbox may still run its archive again (:func:`resume`)."""
    await db.execute(
        update(SessionProcessing)
        .where(SessionProcessing.session_id == session_id)
        .values(progress_at=None)
    )


async def stalled(db: AsyncSession, now: datetime, stale: timedelta) -> list[tuple[int, Due]]:
    """The sweeper's pass: every session whose pipeline made no progress for ``stale`` (and is
    neither through nor given up), with what it runs next; each is marked re-driven, so it is
    sent again only after another ``stale`` without progress."""
    cutoff = now - stale
    session_ids = await db.scalars(
        select(SessionProcessing.session_id)
        .join(ReceptionSession, ReceptionSession.id == SessionProcessing.session_id)
        .where(
            SessionProcessing.progress_at <= cutoff,
            ReceptionSession.status.in_([SessionStatus.PROCESSING, SessionStatus.ARCHIVED]),
        )
        .order_by(SessionProcessing.session_id)
    )
    found = []
    for session_id in list(session_ids):
        due = await next_due(db, session_id)
        # Compare-and-set: a step that moved the session on (or finished its pipeline) since it
        # was read keeps its mark, and the step it ran is not sent again.
        marked = await db.execute(
            update(SessionProcessing)
            .where(
                SessionProcessing.session_id == session_id,
                SessionProcessing.progress_at <= cutoff,
            )
            .values(progress_at=now, redrives=SessionProcessing.redrives + 1)
            .execution_options(synchronize_session=False)
        )
        if due and cast(CursorResult[Any], marked).rowcount:
            found += [(session_id, d) for d in due]
    return found


async def step_done(db: AsyncSession, session_id: int, step: str) -> None:
    """Record a finished step once (a redelivered task does not list it twice)."""
    row = await db.get(SessionProcessing, session_id, with_for_update=True)
    if row is None or step in row.steps_done:
        return
    row.steps_done = [*row.steps_done, step]
    if row.progress_at is not None:
        row.progress_at = _now()
    if row.state == PLANNED:
        row.state = RUNNING


async def add_warnings(db: AsyncSession, session_id: int, *warnings: str) -> None:
    """Keep warnings for the people reading the result (each once)."""
    row = await db.get(SessionProcessing, session_id, with_for_update=True)
    if row is not None:
        row.warnings = list(dict.fromkeys([*row.warnings, *warnings]))


async def finish(db: AsyncSession, session_id: int) -> str:
    """Mark the session processed, with warnings when anything was left out; the state."""
    row = await db.get(SessionProcessing, session_id)
    failed = await db.scalar(
        select(ProcessingTrack.track_sid).where(
            ProcessingTrack.session_id == session_id, ProcessingTrack.state == TRACK_FAILED
        )
    )
    state = DONE_WITH_WARNINGS if (row and row.warnings) or failed else DONE
    await set_state(db, session_id, state)
    return state


def _track(session_id: int, track_sid: str) -> tuple[ColumnElement[bool], ...]:
    return (ProcessingTrack.session_id == session_id, ProcessingTrack.track_sid == track_sid)


async def track_started(
    db: AsyncSession, session_id: int, track_sid: str, stale: timedelta
) -> bool:
    """Claim the track's transcription (again, if redelivered or re-driven); False when another
    run of it showed life within ``stale`` (a second delivery of a job still running)."""
    claimed = await db.execute(
        update(ProcessingTrack)
        .where(
            *_track(session_id, track_sid),
            (ProcessingTrack.state != TRACK_RUNNING)
            | (ProcessingTrack.updated_at <= _now() - stale),
        )
        .values(state=TRACK_RUNNING, attempts=ProcessingTrack.attempts + 1, done_s=0.0,
                updated_at=_now())
    )  # fmt: skip
    await enqueued(db, session_id)
    if not cast(CursorResult[Any], claimed).rowcount:
        return False
    await touch(db, session_id)
    return True


async def track_progress(db: AsyncSession, session_id: int, track_sid: str, done_s: float) -> None:
    """Seconds of the track's audio transcribed so far."""
    await db.execute(
        update(ProcessingTrack).where(*_track(session_id, track_sid)).values(done_s=done_s)
    )
    await touch(db, session_id, track_sid)


async def track_done(db: AsyncSession, session_id: int, track_sid: str) -> None:
    """The track's transcript is written (counted once: recording it again changes nothing)."""
    await db.execute(
        update(ProcessingTrack)
        .where(*_track(session_id, track_sid), ProcessingTrack.state != TRACK_DONE)
        .values(
            state=TRACK_DONE,
            done_s=ProcessingTrack.audio_s,
            completions=ProcessingTrack.completions + 1,
        )
    )


async def track_failed(db: AsyncSession, session_id: int, track_sid: str, reason: str) -> None:
    """The track cannot be transcribed; the others go on."""
    await db.execute(
        update(ProcessingTrack)
        .where(*_track(session_id, track_sid))
        .values(state=TRACK_FAILED, reason=reason)
    )


async def give_up(db: AsyncSession, session_id: int, error: str) -> None:
    """A step failed for good: the session and its processing are both ``failed``, with
    ``error`` as the reason. A session already archived (a later step failed) stays archived,
    with the error as a warning: its record is kept, only the search may miss it."""
    session = await locked_session(db, session_id)
    if session is None or session.status not in PIPELINE_STATUSES:
        # A job that was not this session's (it is live, say) fails nothing of it.
        log.warning("session %s: a job not of its pipeline failed: %s", session_id, error)
        return
    if session.status is SessionStatus.ARCHIVED:
        await add_warnings(db, session_id, f"Phiên đã lưu trữ, nhưng một bước sau đó lỗi: {error}")
        return
    if session.status is not SessionStatus.FAILED:
        move(session, SessionStatus.FAILED, error)
    if await db.get(SessionProcessing, session_id) is None:  # it failed before it was planned
        db.add(SessionProcessing(session_id=session_id, state=PLANNED, steps_done=[], warnings=[]))
        await db.flush()
    await set_state(db, session_id, FAILED, error)
    await settle(db, session_id)


async def resume(db: AsyncSession, session_id: int) -> None:
    """A step of a failed session runs again (a re-drive): the session is back in
    ``processing``, and so is its processing."""
    session = await locked_session(db, session_id)
    if session is not None and session.status is SessionStatus.FAILED:
        move(session, SessionStatus.PROCESSING, "retried")
        await set_state(db, session_id, RUNNING)
        await db.execute(
            update(SessionProcessing)
            .where(SessionProcessing.session_id == session_id)
            .values(progress_at=_now())
        )


async def finish_resumed(db: AsyncSession, session_id: int) -> None:
    """The step that :func:`resume` ran again has succeeded: the processing is finished again."""
    row = await db.get(SessionProcessing, session_id)
    if row is not None and row.state == RUNNING:
        await finish(db, session_id)
