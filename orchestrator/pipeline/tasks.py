"""The post-session pipeline as Celery tasks, and the chain that runs them per session.

``tiepdan.session_ended`` (sent once per session by the orchestrator's outbox) plans the work and
enqueues: a group of ``transcribe_track`` (one per speaker track, queue ``transcribe``) →
``merge`` → ``mix`` → ``minutes`` (queue ``media``) → ``archive_session`` → ``index_session``
(queue ``archive``, owned by :mod:`orchestrator.pipeline.archive_step` and
:mod:`orchestrator.pipeline.index_step`).
Arguments are ids; the logic is in :mod:`orchestrator.pipeline.steps`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, Final, ParamSpec, TypeVar

from celery import Celery, chain, group
from minio.error import MinioException
from redis.exceptions import RedisError
from sqlalchemy.exc import InterfaceError, OperationalError
from urllib3.exceptions import HTTPError

from config import Settings
from orchestrator.pipeline import progress, steps
from transcription.celery_app import RetryingTask, RetryLater, TaskName

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

# Worth another try later, whatever the step: the database, S3 or the broker's Redis did not
# answer. Our own errors say so themselves (``retryable``: the model ran out of memory, the
# archive chain stayed locked).
TRANSIENT: Final = (
    OperationalError, InterfaceError, MinioException, HTTPError, RedisError, ConnectionError,
    TimeoutError,
)  # fmt: skip


def retry_transient(step: Callable[P, R]) -> Callable[P, R]:
    """``step``, with the failures worth another try raised as :class:`RetryLater`."""

    @functools.wraps(step)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return step(*args, **kwargs)
        except RetryLater:
            raise
        except Exception as e:
            if isinstance(e, TRANSIENT) or getattr(e, "retryable", False):
                raise RetryLater(f"{type(e).__name__}: {e}") from e
            raise

    return run


class SessionTask(RetryingTask):
    """A task of one session's pipeline (its first argument is the session id): when it gives
    up (no retry left, or an error no retry cures), the session is marked failed."""

    settings: Settings  # the worker's, given at registration

    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        session_id = args[0]
        cause = exc.__cause__ if isinstance(exc, RetryLater) and exc.__cause__ else exc
        error = f"{self.name}: {type(cause).__name__}: {cause}"[:2000]
        log.error("session %s: pipeline failed: %s", session_id, error)
        # Called in the worker's main process too, when a hard time limit ended the task's.
        with progress.process_db(self.settings):
            progress.run_db(lambda db: progress.give_up(db, session_id, error))


def time_limits(settings: Settings) -> tuple[int, int]:
    """(soft, hard) seconds for one task: the hard limit stays inside the broker's visibility
    timeout, so Redis never redelivers a task that is still running."""
    visibility = settings.broker.visibility_timeout_s
    return int(visibility * 0.8), int(visibility * 0.9)


def register_step(
    app: Celery,
    settings: Settings,
    name: TaskName,
    step: Callable[..., Any],
    *,
    soft_time_limit: int,
    time_limit: int,
    base: type[RetryingTask] = SessionTask,
) -> None:
    """Register ``step`` as the task ``name`` of ``app`` alone (it holds the worker's
    ``settings``), with the one retry policy."""
    app.task(
        name=name.value, base=base, shared=False, settings=settings,
        soft_time_limit=soft_time_limit, time_limit=time_limit,
    )(retry_transient(step))  # fmt: skip


def pipeline_chain(app: Celery, session_id: int, track_sids: list[str]) -> Any:
    """The chain of one session's steps (immutable signatures: each takes only ids)."""

    def step(name: TaskName, *args: Any) -> Any:
        return app.signature(
            name.value, args=(session_id, *args), queue=name.queue.value, immutable=True
        )

    tail = [
        step(TaskName.MERGE_TRANSCRIPT),
        step(TaskName.MIX_AUDIO),
        step(TaskName.RENDER_MINUTES),
        step(TaskName.ARCHIVE_SESSION),
        step(TaskName.INDEX_SESSION),
    ]
    tracks = [step(TaskName.TRANSCRIBE_TRACK, sid) for sid in track_sids]
    return chain(group(tracks), *tail) if tracks else chain(*tail)


def register(app: Celery, settings: Settings) -> None:
    """Register the pipeline's tasks on ``app``."""
    soft, hard = time_limits(settings)

    def session_ended(session_id: int) -> None:
        track_sids = steps.plan_session(session_id)
        if track_sids is None:
            log.info("session %s: pipeline already enqueued", session_id)
        else:
            pipeline_chain(app, session_id, track_sids).apply_async()
        progress.run_db(lambda db: progress.enqueued(db, session_id))

    def transcribe_track(session_id: int, track_sid: str) -> None:
        steps.transcribe_session_track(settings, session_id, track_sid)

    for name, task in (
        (TaskName.SESSION_ENDED, session_ended),
        (TaskName.TRANSCRIBE_TRACK, transcribe_track),
        (TaskName.MERGE_TRANSCRIPT, steps.merge_session),
        (TaskName.MIX_AUDIO, steps.mix_session),
        (TaskName.RENDER_MINUTES, steps.minutes_session),
    ):
        register_step(app, settings, name, task, soft_time_limit=soft, time_limit=hard)
