"""More sessions than recorders: a real `tiepdan media` agent of capacity 2 and three launches.
The third session goes live (its citizens are already at their connection points) and waits for
a recorder, and that it is not recorded is shown: by the API, on the chair's join page
("KHÔNG GHI") and on the central dashboard; the first recorder freed takes it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp

from tests.integration.conftest import World
from tests.integration.test_launch import call, eventually, launch, new_session_now

TIEPDAN = str(Path(sys.executable).parent / "tiepdan")


async def recorder(world: World, http: aiohttp.ClientSession, session_id: int) -> dict[str, Any]:
    status, body, _ = await call(http, world, "chair", "GET", f"/sessions/{session_id}/recorder")
    assert status == 200, body
    return dict(body)


async def board(world: World, http: aiohttp.ClientSession) -> dict[int, dict[str, Any]]:
    """The central dashboard's rows, as its event stream first sends them."""
    async with http.get(world.base_url + "/central/events", headers=world.headers("admin")) as r:
        assert r.status == 200
        async for line in r.content:
            if line.startswith(b"data: "):
                return {s["id"]: s for s in json.loads(line[6:])["sessions"]}
    return {}


async def badge(world: World, http: aiohttp.ClientSession, join_url: str) -> str:
    async with http.get(join_url, headers=world.headers("chair")) as r:
        assert r.status == 200
        page = await r.text()
    start = page.index('<span id="recording"')
    return page[start : page.index("</span>", start)]


async def test_three_launches_on_an_agent_of_capacity_two(
    world: World, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "TIEPDAN_PATHS__STATE_DIR": str(world.settings.paths.state_dir),
        "TIEPDAN_WEB__PUBLIC_URL": world.base_url,
    }
    with (tmp_path / "agent.log").open("ab") as log:
        agent = subprocess.Popen(
            [TIEPDAN, "media", "--agent-id", "agent-cap2", "--capacity", "2",
             "--spool-dir", str(tmp_path / "spool")],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    sessions: list[int] = []
    try:
        joins = []
        for _ in range(3):
            sessions.append(await new_session_now(world, http))
            joins.append(await launch(world, http, "chair", sessions[-1]))
        first, second, third = sessions

        async def two_recording() -> bool:
            states = [(await recorder(world, http, s))["state"] for s in (first, second)]
            return states == ["recording", "recording"]

        assert await eventually(two_recording, timeout=60), "the agent took no two sessions"
        waiting = await recorder(world, http, third)
        assert waiting["state"] == "no_recorder" and waiting["label"] == "KHÔNG GHI"
        assert waiting["agent_id"] is None
        assert 'class="off">KHÔNG GHI' in await badge(world, http, joins[2])

        async def recorded_in_room() -> bool:
            rows = await board(world, http)
            return all(s in rows for s in sessions) and rows[first]["recording"]

        assert await eventually(recorded_in_room, timeout=30)
        rows = await board(world, http)
        assert rows[third]["recorder"] == "no_recorder" and rows[third]["recording"] is False
        assert rows[first]["recorder"] == "recording"
        assert "● ĐANG GHI" in await badge(world, http, joins[0])

        # The first session ends: its recorder finalizes, and the waiting session gets one.
        status, _, _ = await call(http, world, "chair", "POST", f"/sessions/{first}/end")
        assert status == 200

        async def third_recording() -> bool:
            return (await recorder(world, http, third))["state"] == "recording"

        assert await eventually(third_recording, timeout=60), "the freed recorder did not take it"
        assert (await recorder(world, http, first))["state"] == "complete"
    finally:
        for session_id in sessions:
            await call(http, world, "chair", "POST", f"/sessions/{session_id}/end")
        agent.terminate()
        agent.wait(timeout=30)
