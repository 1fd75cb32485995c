"""The orchestrator's aiohttp application: ``create_app(settings)``."""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web
from livekit import api
from pydantic import ValidationError

from config import Settings
from orchestrator import home
from orchestrator.accounts import routes as accounts_routes
from orchestrator.core.errors import OrchestratorError
from orchestrator.db import open_db
from orchestrator.live import agent_routes, central_routes
from orchestrator.live import routes as live_routes
from orchestrator.live.board import board_ctx, stop_streams
from orchestrator.live.reconciler import reconciler
from orchestrator.pipeline import routes as pipeline_routes
from orchestrator.pipeline.sweeper import redrive_stalled
from orchestrator.scheduling import routes as scheduling_routes
from orchestrator.search import playback
from orchestrator.search import routes as search_routes
from orchestrator.web.app_keys import DB, ENQUEUE, LIVEKIT, SETTINGS, USER, Enqueue
from orchestrator.web.auth import authenticate, setup_auth
from orchestrator.web.health import add_probes
from orchestrator.web.html import STATIC_DIR
from orchestrator.web.http_errors import HANDLER_ARGS, http_error_middleware, problem
from orchestrator.web.monitoring import metrics_ctx, request_id_middleware
from orchestrator.web.router import mount
from orchestrator.web.security_headers import setup_security_headers
from orchestrator.web.validation import validation_detail
from transcription import TaskName, create_celery, send

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

API_ROUTES = [
    *accounts_routes.ROUTES,
    *scheduling_routes.ROUTES,
    *live_routes.ROUTES,
    *agent_routes.ROUTES,
    *central_routes.ROUTES,
    *pipeline_routes.ROUTES,
    *search_routes.ROUTES,
    *playback.ROUTES,
]
"""Every operation of the JSON API, in the order the OpenAPI document lists them."""
PAGES = [
    *home.PAGES,
    *accounts_routes.PAGES,
    *scheduling_routes.PAGES,
    *live_routes.PAGES,
    *central_routes.PAGES,
    *search_routes.PAGES,
]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Domain errors → their status with a Vietnamese detail; never a stack trace to the user."""
    try:
        return await handler(request)
    except OrchestratorError as e:
        return problem(e.status, e.title, e.detail)
    except ValidationError as e:
        return problem(422, "Unprocessable entity", validation_detail(e))
    except web.HTTPException:
        raise
    except Exception as e:
        if isinstance(e, ConnectionError) and request.transport is None:  # the client left
            log.info("client left during %s %s", request.method, request.path)
            return web.Response(status=499)  # nginx's "client closed request", for the log
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem(500, "Internal error", "Lỗi hệ thống. Vui lòng thử lại sau.")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Sets ``request[USER]`` (or None) for every handler."""
    request[USER] = await authenticate(request)
    return await handler(request)


async def celery_enqueue(settings: Settings) -> AsyncIterator[Enqueue]:
    """Enqueue by task name; the broker call is blocking, so it runs in a thread."""
    celery = create_celery(settings)

    async def enqueue(task: TaskName, session_id: int, *args: str) -> None:
        await asyncio.to_thread(send, celery, task, session_id, *args)

    try:
        yield enqueue
    finally:
        celery.close()


def create_app(settings: Settings, *, reconcile_interval_s: float | None = 5.0) -> web.Application:
    """The orchestrator. Clients (database, LiveKit, broker) open and close with the app.

    ``reconcile_interval_s`` None runs no reconciler, and so no sweeper (benchmarks,
    one-off tools).
    """
    app = web.Application(
        middlewares=[request_id_middleware, http_error_middleware, error_middleware],
        client_max_size=10 * 1024 * 1024,
        handler_args=HANDLER_ARGS,
    )
    app[SETTINGS] = settings
    setup_auth(app, settings)
    setup_security_headers(app, settings)
    app.middlewares.append(auth_middleware)

    async def database(app: web.Application) -> AsyncIterator[None]:
        async with open_db(settings.db.url) as sessions:
            app[DB] = sessions
            yield

    async def livekit(app: web.Application) -> AsyncIterator[None]:
        lk = settings.livekit
        async with api.LiveKitAPI(
            lk.http_url, lk.api_key, lk.api_secret.get_secret_value()
        ) as lkapi:
            app[LIVEKIT] = lkapi
            yield

    async def broker(app: web.Application) -> AsyncIterator[None]:
        async for enqueue in celery_enqueue(settings):
            app[ENQUEUE] = enqueue
            yield

    app.cleanup_ctx.extend([database, livekit, broker])
    metrics_ctx(app)
    if reconcile_interval_s is not None:
        app.cleanup_ctx.append(reconciler(reconcile_interval_s, redrive_stalled))
    app.cleanup_ctx.append(board_ctx)  # after the database and LiveKit contexts it uses
    app.on_shutdown.append(stop_streams)
    mount(app, API_ROUTES, PAGES)
    add_probes(app)
    app.router.add_static("/static", STATIC_DIR)
    return app


def run(settings: Settings, **kwargs: Any) -> None:
    """Serve the orchestrator until SIGTERM or SIGINT: the event streams end at once
    (``stop_streams``), other requests get ``web.shutdown_timeout_s``."""
    app = create_app(settings)
    timeout_s = settings.web.shutdown_timeout_s

    async def watch_shutdown(_app: web.Application) -> None:
        # Should shutting down outlast its timeout, the log says where every thread was: it
        # once took over 10 s in CI with nothing logged (a join cut short: media.room_join).
        log.info("shutting down: event streams end now, requests get %gs", timeout_s)
        faulthandler.dump_traceback_later(timeout_s + 1.0)

    app.on_shutdown.insert(0, watch_shutdown)
    # Everything loaded so far lives as long as the process: kept out of the collector, the
    # interpreter's teardown after SIGTERM takes about 2 s instead of 7 (measured on the
    # test machine), well inside docker stop's 10 s.
    gc.freeze()
    web.run_app(
        app, host=settings.web.host, port=settings.web.port,
        shutdown_timeout=timeout_s, **kwargs,
    )  # fmt: skip
