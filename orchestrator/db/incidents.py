"""A session's integrity incidents (recorded files found altered before the pipeline read them),
as every page and API that shows a session reads them (:mod:`orchestrator.pipeline.integrity`
records them)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.models import IntegrityIncident


async def recorded_incidents(db: AsyncSession, session_id: int) -> list[IntegrityIncident]:
    """The session's integrity incidents, by file name."""
    rows = await db.scalars(
        select(IntegrityIncident)
        .where(IntegrityIncident.session_id == session_id)
        .order_by(IntegrityIncident.path)
    )
    return list(rows)
