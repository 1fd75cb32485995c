"""Holding a session's row for the rest of a transaction, on both backends.

A status is checked and then changed (:func:`orchestrator.core.lifecycle.move`); between the two,
another process (a webhook, the reconciler, a worker) may have changed it. Taking the row's write
lock first makes the check and the change one step: PostgreSQL locks the row, SQLite the database,
until the commit, and the session is read again after the lock so its status is the current one.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.models import ReceptionSession


async def locked_session(db: AsyncSession, session_id: int) -> ReceptionSession | None:
    """The session, read after taking its row's write lock (held until ``db`` commits)."""
    # A write that changes nothing takes the same lock on both backends (SQLite has no
    # SELECT ... FOR UPDATE); setting updated_at to itself keeps its on-update default away.
    await db.execute(
        update(ReceptionSession)
        .where(ReceptionSession.id == session_id)
        .values(updated_at=ReceptionSession.updated_at)
        .execution_options(synchronize_session=False)
    )
    return await db.get(ReceptionSession, session_id, populate_existing=True)
