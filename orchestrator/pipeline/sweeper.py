"""The pipeline's sweeper, run by the orchestrator's reconciler: every session whose pipeline
made no progress for ``pipeline.stale_after_s`` (its worker was killed, or the broker restarted
empty and lost its queued jobs) has its next step sent again, as its progress rows say. Steps are
idempotent, so a step sent twice changes nothing the second time."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from aiohttp import web

from orchestrator.live.session_end import SEND_TIMEOUT_S
from orchestrator.pipeline import progress
from orchestrator.web.app_keys import DB, ENQUEUE, SETTINGS

log = logging.getLogger(__name__)


async def redrive_stalled(app: web.Application) -> list[int]:
    """Send the next step of every stalled session again; the sessions it re-drove. A send that
    fails is tried again after another ``stale_after_s`` (the re-drive is marked first)."""
    stale = timedelta(seconds=app[SETTINGS].pipeline.stale_after_s)
    async with app[DB]() as db:
        found = await progress.stalled(db, datetime.now(UTC), stale)
        await db.commit()
    for session_id, due in found:
        log.warning("session %s: pipeline made no progress; sending %s again", session_id,
                    due.task.value, extra={"session": session_id})  # fmt: skip
        try:
            await asyncio.wait_for(app[ENQUEUE](due.task, session_id, *due.extra), SEND_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - the broker failed in any way: the next pass resends
            log.exception("session %s: %s could not be sent", session_id, due.task.value)
    return sorted({session_id for session_id, _ in found})
