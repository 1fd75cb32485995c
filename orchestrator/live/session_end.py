"""What happens after the commit that changes a session's state."""

from __future__ import annotations

import logging

from aiohttp import web

from orchestrator.web.app_keys import ENQUEUE
from transcription.celery_app import SESSION_ENDED_TASK

log = logging.getLogger(__name__)


async def session_ended(app: web.Application, session_id: int) -> None:
    """After the commit that ended it: start the post-session pipeline (by task name)."""
    log.info("session %s ended; enqueueing the pipeline", session_id, extra={"session": session_id})
    await app[ENQUEUE](SESSION_ENDED_TASK, session_id)
