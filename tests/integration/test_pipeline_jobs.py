"""What a pipeline job does with what it did not expect: a job that is not of the session's
pipeline, and a transaction PostgreSQL rolled back for another's sake (both found by the soak)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from celery.result import EagerResult
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from config import Settings
from orchestrator.core.vocabulary import SessionKind, SessionStatus
from orchestrator.db.models import ReceptionSession, SessionProcessing
from orchestrator.pipeline import register_tasks
from orchestrator.pipeline.tasks import retry_transient
from tests.databases import empty_database
from tests.integration.conftest import World
from transcription import RetryLater, TaskName, create_celery


@pytest.mark.usefixtures("worker_db")
@pytest.mark.parametrize(
    ("task", "args"),
    [
        (TaskName.TRANSCRIBE_TRACK, ("TR_stray",)),
        (TaskName.SESSION_ENDED, ()),
        (TaskName.MERGE_TRANSCRIPT, ()),
        (TaskName.ARCHIVE_SESSION, ()),
        (TaskName.INDEX_SESSION, ()),
    ],
)
async def test_a_job_not_of_a_live_sessions_pipeline_fails_nothing_of_it(
    world: World, task: TaskName, args: tuple[str, ...]
) -> None:
    """Left in the broker by another database, a ``transcribe_track`` for "session 1" marked a
    soak's live session 1 failed: every session job is now dropped unless the session's pipeline
    has begun."""
    now = datetime.now(UTC)
    async with world.db() as db:
        live = ReceptionSession(
            title="Tiếp công dân (đang diễn ra)", kind=SessionKind.PERIODIC,
            agency_id=world.agencies["ninh-binh"], starts_at=now, ends_at=now + timedelta(hours=1),
            status=SessionStatus.LIVE,
        )  # fmt: skip
        db.add(live)
        await db.commit()
        session_id = live.id

    def run_job() -> EagerResult:
        app = register_tasks(create_celery(world.settings), world.settings)
        return app.tasks[task.value].apply(args=(session_id, *args))

    result = await asyncio.to_thread(run_job)
    assert result.successful(), result.traceback
    async with world.db() as db:
        session = await db.get(ReceptionSession, session_id, populate_existing=True)
        assert session is not None and session.status is SessionStatus.LIVE
        assert await db.get(SessionProcessing, session_id) is None


async def test_a_deadlock_is_worth_another_try(local_stack: Settings, tmp_path: Path) -> None:
    """Two transactions that lock two rows in opposite orders: PostgreSQL ends one of them, and
    the step that met it is tried again rather than failing its session for good."""
    async with empty_database("postgresql", local_stack, tmp_path) as url:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as c:
                await c.execute(text("CREATE TABLE t (id int PRIMARY KEY, n int)"))
                await c.execute(text("INSERT INTO t VALUES (1, 0), (2, 0)"))
            async with engine.connect() as a, engine.connect() as b:
                await a.execute(text("UPDATE t SET n = 1 WHERE id = 1"))
                await b.execute(text("UPDATE t SET n = 1 WHERE id = 2"))
                first = asyncio.create_task(a.execute(text("UPDATE t SET n = 2 WHERE id = 2")))
                await asyncio.sleep(0.3)
                second = asyncio.create_task(b.execute(text("UPDATE t SET n = 2 WHERE id = 1")))
                ended = await asyncio.gather(first, second, return_exceptions=True)
                await a.rollback()
                await b.rollback()
        finally:
            await engine.dispose()
    [deadlock] = [e for e in ended if isinstance(e, Exception)]
    assert "deadlock" in str(deadlock)

    def step(session_id: int) -> None:
        raise deadlock

    with pytest.raises(RetryLater) as raised:
        retry_transient(step)(1)
    assert raised.value.__cause__ is deadlock
