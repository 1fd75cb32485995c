"""The post-session pipeline as Celery tasks.

``tiepdan.session_ended`` (sent once per session by the orchestrator's outbox) plans the work and
sends the ``transcribe_track`` of every speaker track (queue ``transcribe``); the last track to
finish sends ``merge`` (one that ends while the last others run sends ``premix_audio``, which
mixes ahead for the mix step to take), and each step then sends the next: ``mix`` →
``minutes`` (queue ``media``) → ``archive_session`` → ``index_session`` (queue ``archive``, owned by
:mod:`orchestrator.pipeline.archive_step` and :mod:`orchestrator.pipeline.index_step`). What
runs next is read from the progress rows (:mod:`orchestrator.pipeline.stages`), so the
orchestrator's sweeper (:mod:`orchestrator.pipeline.sweeper`) can send it again when a worker or
the broker lost it. Arguments are ids; the logic is in :mod:`orchestrator.pipeline.steps`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, Final, ParamSpec, TypeVar

from celery import Celery
from minio.error import MinioException
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from urllib3.exceptions import HTTPError

from config import Settings
from orchestrator.core.faults import kill_worker_if_asked
from orchestrator.pipeline import progress, steps
from orchestrator.pipeline.stages import SESSION_STEPS, premix_due
from transcription.celery_app import RetryingTask, RetryLater, TaskName, send

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
# PostgreSQL ended the transaction for another's sake (deadlock_detected, serialization_failure):
# the same step succeeds when run again. asyncpg's driver reports these as a plain DBAPIError;
# a soak found the archive step's session lock in a deadlock, and the session failed for good.
ROLLED_BACK_FOR_ANOTHER: Final = frozenset({"40P01", "40001"})


def _is_transient(e: BaseException) -> bool:
    """Whether another try of the step that raised ``e`` may succeed."""
    if isinstance(e, TRANSIENT) or getattr(e, "retryable", False):
        return True
    sqlstate = getattr(e.orig, "sqlstate", None) if isinstance(e, DBAPIError) else None
    return sqlstate in ROLLED_BACK_FOR_ANOTHER


def retry_transient(step: Callable[P, R]) -> Callable[P, R]:
    """``step``, with the failures worth another try raised as :class:`RetryLater`."""

    @functools.wraps(step)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return step(*args, **kwargs)
        except RetryLater:
            raise
        except Exception as e:
            if _is_transient(e):
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
    """(soft, hard) seconds for one session step: the hard limit stays inside the broker's
    visibility timeout, so Redis never delivers again a step that is still running."""
    visibility = settings.broker.visibility_timeout_s
    return int(visibility * 0.8), int(visibility * 0.9)


# Each step's name in ``steps_done`` and in its fault point (``pipeline.<step>``).
STEP_OF: Final = {TaskName.TRANSCRIBE_TRACK: "transcribe", **{t: s for s, t in SESSION_STEPS}}


def advance(app: Celery, session_id: int, *, after_track: bool = False) -> None:
    """Send what the session's pipeline runs next, as its progress rows say. After a track, the
    other tracks still running are left alone (the premix, if due, is sent): the last of them to
    finish sends the merge."""
    due = progress.run_db(lambda db: progress.next_due(db, session_id))
    if after_track and due and due[0].task is TaskName.TRANSCRIBE_TRACK:
        if premix_due(progress.run_db(lambda db: progress.track_states(db, session_id))):
            try:
                send(app, TaskName.PREMIX_AUDIO, session_id)
            except Exception as e:  # an offer: without it the mix step mixes, as ever
                log.warning("session %s: premix not sent: %s", session_id, e)
        return
    for d in due:
        send(app, d.task, session_id, *d.extra)


def session_step(
    app: Celery, settings: Settings, name: TaskName, step: Callable[..., R]
) -> Callable[..., R]:
    """``step`` as one step of a session's pipeline: it beats while it runs, and once done it
    sends the next (so no canvas in the broker holds the session's place)."""

    def run(session_id: int, *args: Any) -> R:
        with progress.heartbeat(settings, session_id):
            kill_worker_if_asked(settings, f"pipeline.{STEP_OF[name]}")
            result = step(session_id, *args)
        advance(app, session_id, after_track=name is TaskName.TRANSCRIBE_TRACK)
        return result

    return functools.update_wrapper(run, step)


def of_a_started_pipeline(name: TaskName, step: Callable[..., R]) -> Callable[..., R | None]:
    """``step``, run only for a session whose pipeline has begun (:data:`progress.
    PIPELINE_STATUSES`). Any other job is dropped: one left in the broker by another database
    (a soak's first session, live, was marked failed by a stray ``transcribe_track``), or sent for
    a session that has not ended."""

    def run(session_id: int, *args: Any) -> R | None:
        status = progress.run_db(lambda db: progress.session_status(db, session_id))
        if status not in progress.PIPELINE_STATUSES:
            log.warning("session %s (%s): %s not for it, dropped", session_id, status, name.value)
            return None
        return step(session_id, *args)

    return functools.update_wrapper(run, step)


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
    ``settings``), with the one retry policy; a step of the pipeline (:data:`STEP_OF`) beats
    and sends the next (:func:`session_step`)."""
    if issubclass(base, SessionTask):
        if name in STEP_OF:
            step = session_step(app, settings, name, step)
        step = of_a_started_pipeline(name, step)
    app.task(
        name=name.value, base=base, shared=False, settings=settings,
        soft_time_limit=soft_time_limit, time_limit=time_limit,
    )(retry_transient(step))  # fmt: skip


def register(app: Celery, settings: Settings) -> None:
    """Register the pipeline's tasks on ``app``."""
    soft, hard = time_limits(settings)

    def session_ended(session_id: int) -> None:
        if steps.plan_session(session_id) is None:
            log.info("session %s: pipeline already started", session_id)
        else:
            advance(app, session_id)
        progress.run_db(lambda db: progress.enqueued(db, session_id))

    def transcribe_track(session_id: int, track_sid: str) -> None:
        steps.transcribe_session_track(settings, session_id, track_sid)

    register_step(
        app, settings, TaskName.SESSION_ENDED, session_ended, soft_time_limit=soft, time_limit=hard
    )
    limit = settings.pipeline.transcribe_time_limit_s
    register_step(app, settings, TaskName.TRANSCRIBE_TRACK, transcribe_track,
                  soft_time_limit=int(limit * 0.95), time_limit=limit)  # fmt: skip

    def premix_audio(session_id: int) -> None:
        steps.premix_session(settings, session_id)

    # Not a step: it sends nothing next, and a failure leaves the mix to the mix step.
    register_step(
        app, settings, TaskName.PREMIX_AUDIO,
        of_a_started_pipeline(TaskName.PREMIX_AUDIO, premix_audio),
        soft_time_limit=soft, time_limit=hard, base=RetryingTask,
    )  # fmt: skip
    for name, task in (
        (TaskName.MERGE_TRANSCRIPT, steps.merge_session),
        (TaskName.MIX_AUDIO, steps.mix_session),
        (TaskName.RENDER_MINUTES, steps.minutes_session),
    ):
        register_step(app, settings, name, task, soft_time_limit=soft, time_limit=hard)
