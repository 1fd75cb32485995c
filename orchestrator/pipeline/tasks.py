"""The post-session pipeline as Celery tasks, and the chain that runs them per session.

``tiepdan.session_ended`` (sent once per session by the orchestrator) plans the work and
enqueues: a group of ``transcribe_track`` (one per speaker track, queue ``transcribe``) →
``merge`` → ``mix`` → ``minutes`` (queue ``media``) → ``archive_session`` → ``index_session``
(queue ``archive``, owned by :mod:`orchestrator.pipeline.archive_step` and
:mod:`orchestrator.pipeline.index_step`).
Arguments are ids; the logic is in :mod:`orchestrator.pipeline.steps`.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from celery import Celery, Task, chain, group
from sqlalchemy.exc import InterfaceError, OperationalError

from config import Settings
from orchestrator.pipeline import progress, steps
from transcription.celery_app import SESSION_ENDED_TASK
from transcription.errors import InferenceError

log = logging.getLogger(__name__)

TRANSCRIBE_TRACK_TASK: Final = "tiepdan.transcribe_track"
MERGE_TASK: Final = "tiepdan.merge_transcript"
MIX_TASK: Final = "tiepdan.mix_audio"
MINUTES_TASK: Final = "tiepdan.render_minutes"
ARCHIVE_TASK: Final = "tiepdan.archive_session"
INDEX_TASK: Final = "tiepdan.index_session"

# Worth another try later: the model ran out of memory, the database was unreachable.
RETRYABLE: Final = (InferenceError, OperationalError, InterfaceError)


class PipelineTask(Task):  # type: ignore[misc]
    """A pipeline step: a final failure (no retry left) marks the session's processing failed."""

    settings: Settings

    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        session_id = args[0]
        error = f"{self.name}: {type(exc).__name__}: {exc}"
        log.error("session %s: pipeline failed: %s", session_id, error)
        progress.run_db(
            self.settings, lambda db: progress.set_state(db, session_id, progress.FAILED, error)
        )


def time_limits(settings: Settings) -> tuple[int, int]:
    """(soft, hard) seconds for one task: the hard limit stays inside the broker's visibility
    timeout, so Redis never redelivers a task that is still running."""
    visibility = settings.broker.visibility_timeout_s
    return int(visibility * 0.8), int(visibility * 0.9)


def pipeline_chain(app: Celery, session_id: int, track_sids: list[str]) -> Any:
    """The chain of one session's steps (immutable signatures: each takes only ids)."""

    def step(name: str, queue: str, *args: Any) -> Any:
        return app.signature(name, args=(session_id, *args), queue=queue, immutable=True)

    tail = [
        step(MERGE_TASK, "media"),
        step(MIX_TASK, "media"),
        step(MINUTES_TASK, "media"),
        step(ARCHIVE_TASK, "archive"),
        step(INDEX_TASK, "archive"),
    ]
    tracks = [step(TRANSCRIBE_TRACK_TASK, "transcribe", sid) for sid in track_sids]
    return chain(group(tracks), *tail) if tracks else chain(*tail)


def register(app: Celery, settings: Settings) -> None:
    """Register the pipeline's tasks on ``app``."""
    soft, hard = time_limits(settings)
    options: dict[str, Any] = {
        "base": PipelineTask,
        "acks_late": True,
        "reject_on_worker_lost": True,
        "autoretry_for": RETRYABLE,
        "retry_backoff": True,
        "retry_backoff_max": 600,
        "retry_jitter": True,
        "max_retries": 5,
        "soft_time_limit": soft,
        "time_limit": hard,
        "settings": settings,
    }

    def session_ended(session_id: int) -> None:
        track_sids = steps.plan_session(settings, session_id)
        if track_sids is None:
            log.info("session %s: pipeline already enqueued", session_id)
            return
        pipeline_chain(app, session_id, track_sids).apply_async()
        progress.run_db(settings, lambda db: progress.enqueued(db, session_id))

    def transcribe_track(session_id: int, track_sid: str) -> None:
        steps.transcribe_session_track(settings, session_id, track_sid)

    def merge_transcript(session_id: int) -> None:
        steps.merge_session(settings, session_id)

    def mix_audio(session_id: int) -> None:
        steps.mix_session(settings, session_id)

    def render_minutes(session_id: int) -> str:
        return steps.minutes_session(settings, session_id)

    for name, task in (
        (SESSION_ENDED_TASK, session_ended),
        (TRANSCRIBE_TRACK_TASK, transcribe_track),
        (MERGE_TASK, merge_transcript),
        (MIX_TASK, mix_audio),
        (MINUTES_TASK, render_minutes),
    ):
        app.task(name=name, **options)(task)
