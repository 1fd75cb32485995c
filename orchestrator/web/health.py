"""``/healthz`` (the process lives) and ``/readyz`` (what it depends on answers), for probes.

``/readyz`` asks the database, Redis, the S3 archive and LiveKit at once, each within
:data:`PROBE_TIMEOUT_S`: 200 when all answer, else a 503 problem whose detail names each part
that did not, and why. Neither needs a sign-in: they say nothing but whether parts answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final

import redis.asyncio as aioredis
from aiohttp import web
from livekit import api
from sqlalchemy import text

from orchestrator.core.errors import UpstreamUnavailable
from orchestrator.web.app_keys import DB, LIVEKIT, SETTINGS
from storage import make_s3_client

__all__ = ["PROBE_TIMEOUT_S", "add_probes"]

PROBE_TIMEOUT_S: Final = 3.0
"""How long one part may take to answer before it counts as down."""

Probe = Callable[[web.Application], Awaitable[None]]


async def _database(app: web.Application) -> None:
    async with app[DB]() as db:
        await db.execute(text("SELECT 1"))


async def _redis(app: web.Application) -> None:
    client = aioredis.from_url(app[SETTINGS].broker.url)
    try:
        await client.ping()
    finally:
        await client.aclose()


async def _s3(app: web.Application) -> None:
    s3 = app[SETTINGS].s3
    client = make_s3_client(s3)
    # Answered either way with these credentials (the archive makes a missing bucket). A thread
    # the timeout may abandon: minio's client is blocking and retries on its own.
    await asyncio.to_thread(client.bucket_exists, s3.bucket)


async def _livekit(app: web.Application) -> None:
    await app[LIVEKIT].room.list_rooms(api.ListRoomsRequest(names=["tiepdan-readyz"]))


PROBES: Final[dict[str, Probe]] = {
    "database": _database,
    "redis": _redis,
    "s3": _s3,
    "livekit": _livekit,
}


async def _failure(app: web.Application, probe: Probe) -> str | None:
    try:
        await asyncio.wait_for(probe(app), PROBE_TIMEOUT_S)
    except TimeoutError:
        return f"không trả lời trong {PROBE_TIMEOUT_S:g} giây"
    except Exception as e:  # noqa: BLE001 - any failure makes the part not ready; the text says why
        return f"{type(e).__name__}: {e}"[:200]
    return None


async def healthz(request: web.Request) -> web.Response:
    """The process lives and its event loop answers."""
    return web.json_response({"status": "alive"})


async def readyz(request: web.Request) -> web.Response:
    """Every part the orchestrator needs answers; else 503 naming those that do not."""
    names = list(PROBES)
    results = await asyncio.gather(*(_failure(request.app, PROBES[n]) for n in names))
    failed = {name: why for name, why in zip(names, results, strict=True) if why}
    if failed:
        raise UpstreamUnavailable(
            "Chưa sẵn sàng: " + "; ".join(f"{name} ({why})" for name, why in failed.items()) + "."
        )
    return web.json_response({"status": "ready", "checked": names})


def add_probes(app: web.Application) -> None:
    """Serve both probes at the root, outside the API's prefix and its sign-in."""
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
