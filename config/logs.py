"""Log lines for every process: plain text by default, JSON lines on demand, and the ids that
let one session be followed through the orchestrator, the media agent and the worker.

The ids travel in context variables (so tasks and threads started under them inherit them):
``request_id`` (an incoming ``X-Request-ID`` or a new one; sent on with every Celery task and
every call the agent makes), ``session_id`` and ``room``. A value passed in ``extra`` wins.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

from config.settings import LoggingSettings

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = ContextVar[str | None]("request_id", default=None)
_SESSION_ID = ContextVar[int | None]("session_id", default=None)
_ROOM = ContextVar[str | None]("room", default=None)
# What an incoming request id may be: anything else (too long, odd characters that would let a
# caller forge log lines) is replaced by a new one.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(room)s] %(message)s"
JSON_FIELDS = "{asctime}{levelname}{name}{message}{request_id}{session_id}{room}"


def new_request_id() -> str:
    """A fresh request id."""
    return uuid.uuid4().hex


def accepted_request_id(incoming: str | None) -> str:
    """``incoming`` if it is a well-formed request id, else a new one."""
    if incoming and _VALID_REQUEST_ID.fullmatch(incoming):
        return incoming
    return new_request_id()


def current_request_id() -> str | None:
    """The request id of the work in hand, if any."""
    return _REQUEST_ID.get()


@contextmanager
def log_context(
    *, request_id: str | None = None, session_id: int | None = None, room: str | None = None
) -> Iterator[None]:
    """Every line logged inside (and in tasks started inside) carries the ids given here."""
    stack = ExitStack()
    if request_id is not None:
        stack.callback(_REQUEST_ID.reset, _REQUEST_ID.set(request_id))
    if session_id is not None:
        stack.callback(_SESSION_ID.reset, _SESSION_ID.set(session_id))
    if room is not None:
        stack.callback(_ROOM.reset, _ROOM.set(room))
    with stack:
        yield


class _ContextFields(logging.Filter):
    """Gives every record ``request_id``, ``session_id`` and ``room`` (``missing`` where none)."""

    def __init__(self, missing: str | None) -> None:
        super().__init__()
        self._missing = missing

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in (("request_id", _REQUEST_ID), ("session_id", _SESSION_ID),
                          ("room", _ROOM)):  # fmt: skip
            if getattr(record, name, None) is None:
                value = var.get()
                setattr(record, name, self._missing if value is None else value)
        return True


def configure_logging(settings: LoggingSettings, process: str) -> None:
    """Send every log line to stderr in the configured format; ``process`` (``orchestrator``,
    ``media``, ``worker``) is named on every JSON line."""
    handler = logging.StreamHandler()
    if settings.format == "json":
        handler.addFilter(_ContextFields(None))
        handler.setFormatter(
            JsonFormatter(JSON_FIELDS, style="{", static_fields={"process": process})
        )
    else:
        handler.addFilter(_ContextFields("-"))
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=settings.level, handlers=[handler], force=True)
    # Python's warnings (a library's deprecation, Celery's running-as-root) as log lines too.
    logging.captureWarnings(True)
