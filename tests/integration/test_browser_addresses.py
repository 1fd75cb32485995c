"""Servers talk over internal addresses; every page and API answer hands browsers the public ones.

The orchestrator here listens on 127.0.0.1 and reaches LiveKit at ``ws://127.0.0.1:…``, while
browsers are told ``http://localhost:…`` and ``ws://localhost:…`` (both loopback, so the test's
own client can follow them, but different strings from the internal ones).
"""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest_asyncio
from livekit import api
from sqlalchemy.ext.asyncio import AsyncEngine

from config import Settings
from orchestrator.live.join_page import read_join_config
from tests.integration.conftest import World, serve_world
from tests.integration.test_launch import launch, launch_link, new_session_now
from tests.integration.test_orchestrator_api import call


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest_asyncio.fixture(scope="session")  # built before the test's blocking-call checker
async def public_world(
    local_stack: Settings, db_url: str, engine: AsyncEngine
) -> AsyncIterator[World]:
    lk = local_stack.livekit
    public_livekit = lk.url.replace("127.0.0.1", "localhost")
    assert public_livekit != lk.url
    settings = local_stack.model_copy(
        update={"livekit": lk.model_copy(update={"public_url": public_livekit})}
    )
    async with serve_world(
        settings, db_url, engine, port=_free_port(), redis_db=6, public_host="localhost"
    ) as world:
        yield world


def _internal_addresses(world: World) -> list[str]:
    web = world.settings.web
    return [f"http://{web.host}:{web.port}", world.settings.livekit.url]


async def test_browsers_get_the_public_addresses(
    public_world: World, http: aiohttp.ClientSession
) -> None:
    world = public_world
    public_web = world.settings.web.public_url
    public_lk = world.settings.livekit.public_url
    assert public_web.startswith("http://localhost:") and public_lk.startswith("ws://localhost:")
    seen: list[str] = []

    _, feed, _ = await call(http, world, "chair", "GET", "/me/calendar")
    assert feed["url"].startswith(public_web + "/calendar/")
    session_id = await new_session_now(world, http)
    link = await launch_link(world, http, "chair", session_id)
    assert link.startswith(public_web + "/launch/")

    join_url = await launch(world, http, "chair", session_id)
    async with http.get(join_url, headers=world.headers("chair")) as r:
        page = await r.text()
    assert read_join_config(page)["livekitUrl"] == public_lk
    seen.append(page)

    _, session, _ = await call(http, world, "officer", "GET", f"/sessions/{session_id}")
    status, invitation, _ = await call(
        http, world, "officer", "POST", f"/sessions/{session_id}/invitations",
        json={"kind": "citizen", "display_name": "Trần Thị B",
              "connection_point_id": session["connection_points"][1]["id"]},
    )  # fmt: skip
    assert status == 201 and invitation["join_url"].startswith(public_web + "/join/")
    async with http.get(invitation["join_url"]) as r:
        assert r.status == 200
        guest_page = await r.text()
    assert read_join_config(guest_page)["livekitUrl"] == public_lk
    seen.append(guest_page)

    status, grant, _ = await call(http, world, "observer", "POST", f"/sessions/{session_id}/listen")
    assert status == 200 and grant["livekit_url"] == public_lk
    seen.append(str(grant))

    async with http.get(public_web + "/", headers=world.headers("chair")) as r:
        home = await r.text()
    assert re.search(re.escape(public_web) + r"/calendar/\S+\.ics", home)
    seen.append(home)

    for text in seen:
        for internal in _internal_addresses(world):
            assert internal not in text

    lk = world.settings.livekit
    async with api.LiveKitAPI(lk.http_url, lk.api_key, lk.api_secret.get_secret_value()) as lkapi:
        await lkapi.room.delete_room(
            api.DeleteRoomRequest(room=f"{world.province_code}-{session_id}")
        )
