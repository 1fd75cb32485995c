"""The Celery application: Redis broker, the queues, every task's name, and the delivery
guarantees and retry policy every task gets.

Workers build it with :func:`create_celery`; the orchestrator enqueues by task name
(``send_task``) and never imports the tasks' heavy dependencies.
"""

from __future__ import annotations

import os
import socket
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from celery import Celery, Task

from config.settings import Settings
from transcription.task_context import connect_task_context


class Queue(StrEnum):
    """The broker's queues; a worker consumes those named on its command line (all by default)."""

    TRANSCRIBE = "transcribe"  # speech recognition, where the Whisper model is
    MEDIA = "media"  # merge, (pre)mix, minutes
    ARCHIVE = "archive"  # archive, index, re-verification, the archive outbox


class TaskName(StrEnum):
    """Every task, by the name it is sent under. A name never changes: jobs may be in flight on
    the broker while a new version rolls out."""

    PING = "tiepdan.ping"
    # Sent by the orchestrator once a session has ended: plans and starts its pipeline.
    SESSION_ENDED = "tiepdan.session_ended"
    TRANSCRIBE_TRACK = "tiepdan.transcribe_track"
    MERGE_TRANSCRIPT = "tiepdan.merge_transcript"
    MIX_AUDIO = "tiepdan.mix_audio"
    # Sent when a track ends while the last others are still transcribed: mixes ahead.
    PREMIX_AUDIO = "tiepdan.premix_audio"
    RENDER_MINUTES = "tiepdan.render_minutes"
    ARCHIVE_SESSION = "tiepdan.archive_session"
    INDEX_SESSION = "tiepdan.index_session"
    VERIFY_ARCHIVE = "tiepdan.verify_archive"
    ARCHIVE_OUTBOX = "tiepdan.archive_outbox"

    @property
    def queue(self) -> Queue:
        """The queue it is sent to."""
        return QUEUE_OF[self]


QUEUE_OF: MappingProxyType[TaskName, Queue] = MappingProxyType(
    {
        TaskName.PING: Queue.TRANSCRIBE,
        TaskName.SESSION_ENDED: Queue.TRANSCRIBE,
        TaskName.TRANSCRIBE_TRACK: Queue.TRANSCRIBE,
        TaskName.MERGE_TRANSCRIPT: Queue.MEDIA,
        TaskName.MIX_AUDIO: Queue.MEDIA,
        TaskName.PREMIX_AUDIO: Queue.MEDIA,
        TaskName.RENDER_MINUTES: Queue.MEDIA,
        TaskName.ARCHIVE_SESSION: Queue.ARCHIVE,
        TaskName.INDEX_SESSION: Queue.ARCHIVE,
        TaskName.VERIFY_ARCHIVE: Queue.ARCHIVE,
        TaskName.ARCHIVE_OUTBOX: Queue.ARCHIVE,
    }
)


class RetryLater(Exception):
    """A task's failure that another try later may cure: a database, S3, broker or model that
    was not available. Raised from the error where it entered our code (``raise ... from e``);
    :class:`RetryingTask` retries it, and nothing else."""


class RetryingTask(Task):  # type: ignore[misc]
    """The base of every task, with the one retry policy: :class:`RetryLater` is retried after
    an exponential backoff with full jitter (at most 5 s, 10 s, 20 s ... then at most 10 min),
    ten times (about 40 minutes at worst) before the task fails; any other error fails it at
    once. Delivery (late acks, redelivery of a lost worker's task) is the app's configuration."""

    autoretry_for = (RetryLater,)
    retry_backoff = 5
    retry_backoff_max = 600
    retry_jitter = True
    max_retries = 10


def create_celery(settings: Settings) -> Celery:
    """A Celery app on the configured broker, with late acks and one task prefetched at a time."""
    app = Celery(
        "tiepdan", broker=settings.broker.url, backend=settings.broker.url, task_cls=RetryingTask
    )
    # Longer than the longest job (the pipeline's time limits are derived from it): a task
    # whose worker died is redelivered after this long.
    visibility = settings.broker.visibility_timeout_s
    app.conf.update(
        # Workers consume the queues named on their command line (every Queue by default).
        task_default_queue=Queue.MEDIA.value,
        # A task is acknowledged only once done, and redelivered if its worker dies mid-way.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={
            "visibility_timeout": visibility,
            # Look for tasks whose worker died every tenth of the timeout (at most every 10 s)
            # rather than kombu's default of every 100 s, so a short timeout means a quick
            # redelivery.
            "unacked_restore_interval": max(1, min(10, visibility // 10)),
            "unacked_restore_throttle": 1,
        },
        result_backend_transport_options={"visibility_timeout": visibility},
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=24 * 3600,
        worker_hijack_root_logger=False,
    )
    app.task(name=TaskName.PING.value)(ping)
    connect_task_context()
    return app


def send(app: Celery, name: TaskName, *args: object) -> Any:
    """Enqueue the task ``name`` with ``args`` on its queue; its ``AsyncResult``.

    Only a ping's result is kept: no step's result is ever read, and sending one with a result
    subscribed the sender to its result channel, to be left when the ``AsyncResult`` was
    collected: on a Redis the sender no longer reached, that failed in whatever ran then (a fault
    test, after the one whose broker link had closed)."""
    return app.send_task(
        name.value, args=list(args), queue=name.queue.value, ignore_result=name is not TaskName.PING
    )


def ping(payload: str) -> dict[str, str | int]:
    """Answer with the payload and who ran it: proves a worker is consuming and can reply."""
    return {"payload": payload, "host": socket.gethostname(), "pid": os.getpid()}
