"""Finding 12: the central board's event stream says nothing to a user when nothing changed in
what that user may see. A restricted session going live and ending, in a province both streams
watch, reaches the cleared administrator's stream and not the uncleared observer's: not as a new
version, not as a changed time of the next keep-alive."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from livekit import api

from orchestrator.core.vocabulary import SessionKind, SessionStatus
from orchestrator.db.models import ReceptionSession
from orchestrator.live import central_routes
from tests.integration.conftest import World
from tests.integration.test_launch import lkapi

pytestmark = pytest.mark.asyncio(loop_scope="session")

KEEPALIVE_S = 2.0
"""The streams' keep-alive period here (15 s served), so that several fit in the test."""


@dataclass
class Stream:
    """What one ``/central/events`` stream said: each data event, and when each line came."""

    events: list[dict[str, Any]] = field(default_factory=list)
    lines: list[tuple[float, str]] = field(default_factory=list)


@asynccontextmanager
async def _follow(world: World, who: str, province: str) -> AsyncIterator[Stream]:
    stream = Stream()
    url = f"{world.base_url}/central/events?province={province}"
    async with aiohttp.ClientSession() as http, http.get(url, headers=world.headers(who)) as r:
        assert r.status == 200

        async def read() -> None:
            async for raw in r.content:
                line = raw.decode().strip()
                if line:
                    stream.lines.append((time.monotonic(), line))
                if line.startswith("data: "):
                    stream.events.append(json.loads(line[6:]))

        reader = asyncio.create_task(read(), name=f"sse-{who}")
        try:
            yield stream
        finally:
            reader.cancel()


async def _until(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.1)


def _ids(stream: Stream) -> list[int] | None:
    return [s["id"] for s in stream.events[-1]["sessions"]] if stream.events else None


async def _restricted_live(world: World, lk: api.LiveKitAPI) -> int:
    room = f"ha-noi-sec-{uuid.uuid4().hex[:8]}"
    await lk.room.create_room(api.CreateRoomRequest(name=room, empty_timeout=60))
    now = datetime.now(UTC)
    async with world.db() as db:
        session = ReceptionSession(
            title="Phiên tố cáo (kín)", kind=SessionKind.AD_HOC, agency_id=world.agencies["ha-noi"],
            starts_at=now, ends_at=now + timedelta(hours=1), status=SessionStatus.LIVE,
            restricted=True, room_name=room,
        )  # fmt: skip
        db.add(session)
        await db.commit()
        return session.id


async def test_a_hidden_session_changes_nothing_in_the_stream(
    world: World, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(central_routes, "KEEPALIVE_S", KEEPALIVE_S)
    async with (
        _follow(world, "admin", "ha-noi") as cleared,
        _follow(world, "observer", "ha-noi") as uncleared,
        lkapi(world) as lk,
    ):  # fmt: skip
        await _until(lambda: _ids(cleared) == [] and _ids(uncleared) == [], "first views")
        session_id = await _restricted_live(world, lk)
        await _until(lambda: _ids(cleared) == [session_id], "the cleared sees it live")
        end = f"{world.base_url}/api/v1/sessions/{session_id}/end"
        async with http.post(end, headers=world.headers("admin")) as r:
            assert r.status == 200, await r.text()
        await _until(lambda: _ids(cleared) == [], "the cleared sees it end")
        await asyncio.sleep(2 * KEEPALIVE_S)  # more board refreshes, more keep-alives
    assert len(uncleared.events) == 1, uncleared.events  # the first view, nothing since
    # Its keep-alives keep their beat: the hidden changes did not move them either.
    times = [at for at, _ in uncleared.lines]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(gaps) >= 2 and all(KEEPALIVE_S - 0.2 < gap < KEEPALIVE_S + 0.5 for gap in gaps), gaps
