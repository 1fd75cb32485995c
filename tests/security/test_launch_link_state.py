"""Findings 7 and 8: a launch link opens only the occurrence it was issued for, and the link of a
session that is no longer open says so on a Vietnamese page with a way home, instead of a 500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from livekit import api

from tests.integration.conftest import World
from tests.integration.test_launch import launch_link, lkapi
from tests.integration.test_orchestrator_api import call, session_body

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def new_session(world: World, http: aiohttp.ClientSession, start: datetime) -> int:
    body = session_body(world, starts_at=start.isoformat(),
                        ends_at=(start + timedelta(hours=2)).isoformat())  # fmt: skip
    status, created, _ = await call(http, world, "chair", "POST", "/sessions", json=body)
    assert status == 201, created
    return int(created[0]["id"])


async def move(world: World, http: aiohttp.ClientSession, session_id: int, start: datetime) -> None:
    times = {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=2)).isoformat()}
    status, _, _ = await call(http, world, "chair", "PATCH", f"/sessions/{session_id}", json=times)
    assert status == 200


async def open_link(world: World, http: aiohttp.ClientSession, link: str) -> tuple[int, str, str]:
    async with http.get(link, headers=world.headers("chair"), allow_redirects=False) as r:
        return r.status, r.headers.get("Location", ""), await r.text()


async def drop_room(world: World, session_id: int) -> None:
    async with lkapi(world) as lk:
        await lk.room.delete_room(api.DeleteRoomRequest(room=f"{world.province_code}-{session_id}"))


async def test_the_link_of_the_old_time_does_not_open_a_moved_session(
    world: World, http: aiohttp.ClientSession
) -> None:
    start = datetime.now(UTC) + timedelta(minutes=5)
    session_id = await new_session(world, http, start)
    old_link = await launch_link(world, http, "chair", session_id)

    # Moved a week later: the old link, still inside its own window, must not open it early.
    later = start + timedelta(days=7)
    await move(world, http, session_id, later)
    status, location, page = await open_link(world, http, old_link)
    assert status == 403 and location == "", (status, location)
    assert "đã được dời sang" in page and 'href="/"' in page
    _, session, _ = await call(http, world, "chair", "GET", f"/sessions/{session_id}")
    assert session["status"] == "scheduled" and session["room_name"] is None

    # Moved back to a time that is open now: the feed carries the new link, and it works.
    soon = start + timedelta(minutes=3)
    await move(world, http, session_id, soon)
    new_link = await launch_link(world, http, "chair", session_id)
    assert new_link != old_link
    assert (await open_link(world, http, old_link))[0] == 403
    status, location, _ = await open_link(world, http, new_link)
    assert status == 303 and location == f"/sessions/{session_id}/join"
    await drop_room(world, session_id)


async def test_the_link_of_a_cancelled_session_says_it_was_cancelled(
    world: World, http: aiohttp.ClientSession
) -> None:
    session_id = await new_session(world, http, datetime.now(UTC) + timedelta(minutes=5))
    link = await launch_link(world, http, "chair", session_id)
    status, _, _ = await call(http, world, "chair", "POST", f"/sessions/{session_id}/cancel",
                              json={"reason": "Chủ trì đi công tác"})  # fmt: skip
    assert status == 200
    status, _, page = await open_link(world, http, link)
    assert status == 409, page
    assert "đã hủy" in page and "Chủ trì đi công tác" in page and 'href="/"' in page


async def test_the_link_of_an_ended_session_says_it_has_ended(
    world: World, http: aiohttp.ClientSession
) -> None:
    session_id = await new_session(world, http, datetime.now(UTC) + timedelta(minutes=5))
    link = await launch_link(world, http, "chair", session_id)
    assert (await open_link(world, http, link))[0] == 303
    status, _, _ = await call(http, world, "chair", "POST", f"/sessions/{session_id}/end")
    assert status == 200
    # Still inside the link's window (it closes at the scheduled end, two hours on).
    status, _, page = await open_link(world, http, link)
    assert status == 409, page
    assert "đã kết thúc" in page and 'href="/"' in page
