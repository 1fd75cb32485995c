"""Recorders: leases held by media agents, and the report that a recording is complete (after
which :mod:`orchestrator.live.session_end` may start the pipeline)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import func, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from media.assignments import Assignment
from orchestrator.core.vocabulary import RecorderState, SessionStatus
from orchestrator.db.models import ReceptionSession, RecordingRequest

# Agents renew every few seconds; a dead agent's rooms are taken over after this.
LEASE_TTL = timedelta(seconds=10)


async def heartbeat(
    db: AsyncSession, agent_id: str, capacity: int, now: datetime
) -> list[Assignment]:
    """Renew ``agent_id``'s leases, take free or expired ones up to ``capacity``, list them."""
    lease_until = now + LEASE_TTL
    pending = RecordingRequest.completed_at.is_(None)
    await db.execute(
        update(RecordingRequest)
        .where(RecordingRequest.agent_id == agent_id, pending)
        .values(lease_expires_at=lease_until)
    )
    held = await db.scalar(
        select(func.count())
        .select_from(RecordingRequest)
        .where(RecordingRequest.agent_id == agent_id, pending)
    )
    free = or_(RecordingRequest.agent_id.is_(None), RecordingRequest.lease_expires_at < now)
    candidates = await db.scalars(
        select(RecordingRequest.session_id)
        .where(pending, free)
        .order_by(RecordingRequest.requested_at)
        .limit(max(capacity - (held or 0), 0))
    )
    for session_id in list(candidates):
        # Compare-and-set: of two agents racing for the same room, one updates a row.
        await db.execute(
            update(RecordingRequest)
            .where(RecordingRequest.session_id == session_id, pending, free)
            .values(agent_id=agent_id, lease_expires_at=lease_until)
        )
    rows = await db.execute(
        select(RecordingRequest, ReceptionSession.status)
        .join(ReceptionSession, ReceptionSession.id == RecordingRequest.session_id)
        .where(RecordingRequest.agent_id == agent_id, pending)
        .order_by(RecordingRequest.session_id)
    )
    return [
        Assignment(r.session_id, r.room_name, r.requested_at, status == SessionStatus.LIVE)
        for r, status in rows
    ]


def recorder_state(request: RecordingRequest | None, now: datetime) -> RecorderState:
    """Whether the recording asked for is running: a media agent holds its lease, none does
    (every agent is full, or none runs: the session is live and nothing records it), or it is
    finalized."""
    if request is not None and request.completed_at is not None:
        return RecorderState.COMPLETE
    if request is not None and request.held_at(now):
        return RecorderState.RECORDING
    return RecorderState.NO_RECORDER


async def release(db: AsyncSession, agent_id: str) -> int:
    """Hand back every lease ``agent_id`` holds on a recording still pending (it is shutting
    down): the next heartbeat of another agent takes the room, instead of after ``LEASE_TTL``.

    Returns:
        How many leases were handed back.
    """
    result = await db.execute(
        update(RecordingRequest)
        .where(RecordingRequest.agent_id == agent_id, RecordingRequest.completed_at.is_(None))
        .values(agent_id=None)
    )
    return int(cast(CursorResult[Any], result).rowcount)


async def complete_recording(
    db: AsyncSession, agent_id: str, session_id: int, manifest_path: str, now: datetime
) -> bool:
    """Mark the recording complete if ``agent_id`` holds it; False if it was not its to finish."""
    result = await db.execute(
        update(RecordingRequest)
        .where(
            RecordingRequest.session_id == session_id,
            RecordingRequest.agent_id == agent_id,
            RecordingRequest.completed_at.is_(None),
        )
        .values(completed_at=now, manifest_path=manifest_path)
    )
    return bool(cast(CursorResult[Any], result).rowcount)
