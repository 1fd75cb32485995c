"""The pipeline's last step: index the session's transcript for the archive search."""

from __future__ import annotations

import logging

from celery import Celery
from sqlalchemy.ext.asyncio import AsyncSession

from config import Settings
from orchestrator.pipeline.progress import run_db, step_done
from orchestrator.pipeline.tasks import register_step
from orchestrator.search.indexer import index_session
from transcription.celery_app import TaskName

__all__ = ["index_session_job", "register"]

log = logging.getLogger(__name__)


def index_session_job(session_id: int) -> int:
    """Index ``transcript.json`` of ``session_id`` (replacing any earlier copy); idempotent.

    Returns:
        The number of utterances indexed.
    """

    async def index_and_record(db: AsyncSession) -> int:
        count = await index_session(db, session_id)
        await step_done(db, session_id, "index")
        return count

    count = run_db(index_and_record)
    log.info("session indexed for search", extra={"session_id": session_id, "utterances": count})
    return count


def register(app: Celery, settings: Settings) -> None:
    """Register the ``tiepdan.index_session`` task (args ``[session_id]``) on ``app``."""
    register_step(
        app, settings, TaskName.INDEX_SESSION, index_session_job, soft_time_limit=600,
        time_limit=660,
    )  # fmt: skip
