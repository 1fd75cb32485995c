"""The ids every job's log lines carry, sent with the task: the request id of whatever enqueued
it (an orchestrator request, or the job that chained it) and the session id (its first
argument), and the time it was published, from which a queue's oldest job's age is read."""

from __future__ import annotations

import time
from contextlib import ExitStack
from typing import Any

from celery import Task
from celery.signals import before_task_publish, task_postrun, task_prerun

from config.logs import current_request_id, log_context, new_request_id

REQUEST_ID_HEADER = "tiepdan_request_id"
PUBLISHED_AT_HEADER = "tiepdan_published_at"
_open: dict[str, ExitStack] = {}


def _stamp(headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is None:
        return
    headers.setdefault(REQUEST_ID_HEADER, current_request_id() or new_request_id())
    headers.setdefault(PUBLISHED_AT_HEADER, time.time())


def _enter(task_id: str, task: Task, args: tuple[Any, ...] = (), **_: Any) -> None:
    request_id = getattr(task.request, REQUEST_ID_HEADER, None)
    session_id = args[0] if args and type(args[0]) is int else None
    stack = ExitStack()
    stack.enter_context(log_context(request_id=request_id, session_id=session_id))
    _open[task_id] = stack


def _leave(task_id: str, **_: Any) -> None:
    if (stack := _open.pop(task_id, None)) is not None:
        stack.close()


def connect_task_context() -> None:
    """Stamp every task this process sends, and give every job it runs its ids (idempotent)."""
    before_task_publish.connect(_stamp, weak=False, dispatch_uid="tiepdan-stamp")
    task_prerun.connect(_enter, weak=False, dispatch_uid="tiepdan-enter")
    task_postrun.connect(_leave, weak=False, dispatch_uid="tiepdan-leave")
