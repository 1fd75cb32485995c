"""The Celery application: Redis broker, the queues, and the delivery guarantees every task gets.

Workers build it with :func:`create_celery`; the orchestrator enqueues by task name
(``send_task``) and never imports the tasks' heavy dependencies.
"""

from __future__ import annotations

import os
import socket

from celery import Celery

from config.settings import Settings

QUEUES = ("transcribe", "media", "archive")
PING_TASK = "tiepdan.ping"
# Sent by the orchestrator when a session's room has ended: starts the post-session pipeline.
SESSION_ENDED_TASK = "tiepdan.session_ended"


def create_celery(settings: Settings) -> Celery:
    """A Celery app on the configured broker, with late acks and one task prefetched at a time."""
    app = Celery("tiepdan", broker=settings.broker.url, backend=settings.broker.url)
    # Longer than the longest job (the pipeline's time limits are derived from it): a task
    # whose worker died is redelivered after this long.
    visibility = settings.broker.visibility_timeout_s
    app.conf.update(
        # Workers consume the queues named on their command line (QUEUES by default).
        task_default_queue="media",
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
    app.task(name=PING_TASK)(ping)
    return app


def ping(payload: str) -> dict[str, str | int]:
    """Answer with the payload and who ran it: proves a worker is consuming and can reply."""
    return {"payload": payload, "host": socket.gethostname(), "pid": os.getpid()}
