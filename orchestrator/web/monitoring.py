"""``GET /metrics`` and the request id middleware (orchestrator.observability holds the metrics)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable

import redis.asyncio as aioredis
from aiohttp import web
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from config.logs import REQUEST_ID_HEADER, accepted_request_id, log_context
from orchestrator.observability.db_gauges import DatabaseGauges
from orchestrator.web.app_keys import DB, DB_GAUGES, REQUEST_ID, SETTINGS

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
METRICS_PATH = "/metrics"
# Routes whose ``{id}`` is a session's id (the others name it ``{session_id}``).
_SESSION_ID_ROUTE = re.compile(r"/(sessions|recordings)/\{id\}")


def _session_of(request: web.Request) -> int | None:
    info = request.match_info
    raw = info.get("session_id")
    if raw is None and "id" in info:
        route = info.route.resource.canonical if info.route.resource else ""
        raw = info["id"] if _SESSION_ID_ROUTE.search(route) else None
    return int(raw) if raw is not None and raw.isdecimal() else None


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every line logged for a request carries its id (and its session's, where the path names
    one); the id is echoed in ``X-Request-ID`` and sent on with the jobs the request enqueues."""
    request_id = accepted_request_id(request.headers.get(REQUEST_ID_HEADER))
    request[REQUEST_ID] = request_id
    with log_context(request_id=request_id, session_id=_session_of(request)):
        return await handler(request)


async def _echo_request_id(request: web.Request, response: web.StreamResponse) -> None:
    if (request_id := request.get(REQUEST_ID)) is not None:
        response.headers[REQUEST_ID_HEADER] = request_id


async def metrics(request: web.Request) -> web.Response:
    """The process's metrics and the database- and broker-derived gauges, in Prometheus's text
    format. Counts and ages only: no name, room or identity."""
    gauges = request.app[DB_GAUGES]
    await gauges.refresh()
    scraped = CollectorRegistry(auto_describe=False)
    scraped.register(gauges)
    # The process collector reads /proc: off the event loop.
    body = await asyncio.to_thread(lambda: generate_latest(REGISTRY) + generate_latest(scraped))
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def metrics_ctx(app: web.Application) -> None:
    """Serve ``/metrics`` (unless ``metrics.orchestrator`` is off) and echo request ids. The
    gauges open their own broker connection; call after the database context is added."""
    app.on_response_prepare.append(_echo_request_id)
    settings = app[SETTINGS]
    if not settings.metrics.orchestrator:
        return

    async def gauges(app: web.Application) -> AsyncIterator[None]:
        broker = aioredis.from_url(settings.broker.url, socket_timeout=2)
        app[DB_GAUGES] = DatabaseGauges(app[DB], broker, settings.metrics.cache_s)
        try:
            yield
        finally:
            await broker.aclose()

    app.cleanup_ctx.append(gauges)
    app.router.add_get(METRICS_PATH, metrics)
