"""What the pipeline's jobs read from and write to the database: plan, progress, warnings.

Celery tasks are synchronous; :func:`run_db` runs one unit of async database work on a fresh
engine and event loop, so a task (or a redelivered task in a new process) shares nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from config import Settings
from orchestrator.db import create_engine, session_factory
from orchestrator.db.models import (
    ProcessingTrack,
    ReceptionSession,
    RecordingRequest,
    SessionProcessing,
)

T = TypeVar("T")

# Session-level states (SessionProcessing.state).
PLANNED, RUNNING = "planned", "running"
DONE, DONE_WITH_WARNINGS, FAILED = "done", "done_with_warnings", "failed"
# Track states (ProcessingTrack.state).
TRACK_PENDING, TRACK_RUNNING, TRACK_DONE, TRACK_FAILED = "pending", "running", "done", "failed"


def run_db(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one transaction, committed when it returns."""

    async def main() -> T:
        engine = create_engine(settings.db.url)
        try:
            async with session_factory(engine)() as db:
                result = await work(db)
                await db.commit()
                return result
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TrackPlan:
    """A speaker track the pipeline transcribes."""

    track_sid: str
    identity: str
    display_name: str
    audio_s: float


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
    db.add(SessionProcessing(session_id=session_id, state=PLANNED, steps_done=[], warnings=[]))
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
    """The chain is enqueued: ``planned`` becomes ``running`` (unless a step already moved it
    on, which a fast chain on another worker may do)."""
    await db.execute(
        update(SessionProcessing)
        .where(SessionProcessing.session_id == session_id, SessionProcessing.state == PLANNED)
        .values(state=RUNNING)
    )


async def step_done(db: AsyncSession, session_id: int, step: str) -> None:
    """Record a finished step once (a redelivered task does not list it twice)."""
    row = await db.get(SessionProcessing, session_id, with_for_update=True)
    if row is None or step in row.steps_done:
        return
    row.steps_done = [*row.steps_done, step]
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


async def track_started(db: AsyncSession, session_id: int, track_sid: str) -> None:
    """A transcription of the track starts (again, if redelivered)."""
    await db.execute(
        update(ProcessingTrack)
        .where(*_track(session_id, track_sid))
        .values(state=TRACK_RUNNING, attempts=ProcessingTrack.attempts + 1, done_s=0.0)
    )
    await enqueued(db, session_id)


async def track_progress(db: AsyncSession, session_id: int, track_sid: str, done_s: float) -> None:
    """Seconds of the track's audio transcribed so far."""
    await db.execute(
        update(ProcessingTrack).where(*_track(session_id, track_sid)).values(done_s=done_s)
    )


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
