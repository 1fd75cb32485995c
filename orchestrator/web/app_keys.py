"""Typed keys of the aiohttp application and requests, kept in one module."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol

from aiohttp import web
from livekit import api
from sqlalchemy.ext.asyncio import async_sessionmaker

from config import Settings
from orchestrator.db.models import User
from orchestrator.observability.db_gauges import DatabaseGauges
from orchestrator.web.login_throttle import LoginThrottle
from orchestrator.web.sessions import SessionStore
from transcription.celery_app import TaskName

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", async_sessionmaker[Any])
LIVEKIT = web.AppKey("livekit", api.LiveKitAPI)
LOGIN_THROTTLE = web.AppKey("login_throttle", LoginThrottle)
SESSIONS = web.AppKey("sessions", SessionStore)


class Enqueue(Protocol):
    """Send the task by its name to its queue, off the event loop."""

    def __call__(self, task: TaskName, session_id: int, *args: str) -> Awaitable[None]: ...


ENQUEUE: web.AppKey[Enqueue] = web.AppKey("enqueue")
# The database- and broker-derived gauges /metrics reports (orchestrator.observability).
DB_GAUGES = web.AppKey("db_gauges", DatabaseGauges)

# The signed-in user of a request (None for anonymous), set by the auth middleware.
USER: web.RequestKey[User | None] = web.RequestKey("user")
# The request's id (an accepted X-Request-ID or a new one), echoed in the response.
REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id")
