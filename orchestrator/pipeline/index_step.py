"""The pipeline's last step: index the session's transcript for the archive search."""

from __future__ import annotations

import logging

from celery import Celery
from sqlalchemy.ext.asyncio import AsyncSession

from config import Settings, load_settings
from orchestrator.pipeline.progress import run_db, step_done
from orchestrator.search.indexer import index_session

__all__ = ["INDEX_SESSION_TASK", "index_session_job", "register"]

log = logging.getLogger(__name__)

INDEX_SESSION_TASK = "tiepdan.index_session"


def index_session_job(settings: Settings, session_id: int) -> int:
    """Index ``transcript.json`` of ``session_id`` (replacing any earlier copy); idempotent.

    Returns:
        The number of utterances indexed.
    """

    async def index_and_record(db: AsyncSession) -> int:
        count = await index_session(db, session_id)
        await step_done(db, session_id, "index")
        return count

    count = run_db(settings, index_and_record)
    log.info("session indexed for search", extra={"session_id": session_id, "utterances": count})
    return count


def register(app: Celery, settings: Settings | None = None) -> None:
    """Register the ``tiepdan.index_session`` task (args ``[session_id]``) on ``app``.

    ``settings`` are those of the worker; when not given, they are loaded once, on first use.
    """
    loaded: list[Settings] = [settings] if settings is not None else []

    @app.task(name=INDEX_SESSION_TASK, acks_late=True, soft_time_limit=600, time_limit=660)  # type: ignore[untyped-decorator]
    def index_session_task(session_id: int) -> int:
        if not loaded:
            loaded.append(load_settings(None))
        return index_session_job(loaded[0], session_id)
