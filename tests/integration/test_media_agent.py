"""`tiepdan media` as deployed: a separate process that follows the orchestrator's leases,
records launched sessions, survives `kill -9`, and hands rooms over when an agent dies."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from livekit import api

from media import RecordingManifest, VoiceBot, mint_token
from tests.audio import sine
from tests.integration.conftest import World
from tests.integration.test_launch import call, eventually, launch, lkapi, new_session_now
from tests.integration.test_recorder import speaker_grants

TIEPDAN = str(Path(sys.executable).parent / "tiepdan")
RATE = 48000


class Agents:
    """`tiepdan media` subprocesses, each with an id and a spool of its own."""

    def __init__(self, world: World, tmp_path: Path) -> None:
        self.world, self.tmp_path = world, tmp_path
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def spool(self, agent_id: str) -> Path:
        return self.tmp_path / agent_id

    def start(self, agent_id: str) -> None:
        env = {
            **os.environ,
            "TIEPDAN_PATHS__STATE_DIR": str(self.world.settings.paths.state_dir),
            "TIEPDAN_WEB__PUBLIC_URL": self.world.base_url,
        }
        with (self.tmp_path / f"{agent_id}.log").open("ab") as log:
            self.procs[agent_id] = subprocess.Popen(
                [TIEPDAN, "media", "--agent-id", agent_id, "--spool-dir",
                 str(self.spool(agent_id))],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def kill(self, agent_id: str) -> None:
        proc = self.procs.pop(agent_id)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()


@pytest.fixture
def agents(world: World, tmp_path: Path) -> Iterator[Agents]:
    running = Agents(world, tmp_path)
    yield running
    running.stop_all()


async def recorder_present(world: World, room: str) -> bool:
    async with lkapi(world) as lk:
        listed = await lk.room.list_participants(api.ListParticipantsRequest(room=room))
    return any(p.identity == "recorder" for p in listed.participants)


async def speaker(world: World, room: str, identity: str) -> VoiceBot:
    token = mint_token(
        world.settings.livekit, identity=identity, grants=speaker_grants(room),
        ttl=timedelta(minutes=5), name=identity,
        attributes={"kind": "citizen", "connection_point": "UBND xã Gia Viễn"},
    )  # fmt: skip
    return await VoiceBot.join(world.settings.livekit.url, token)


async def end_and_wait_processing(
    world: World, http: aiohttp.ClientSession, session_id: int, room: str
) -> None:
    async with lkapi(world) as lk:
        await lk.room.delete_room(api.DeleteRoomRequest(room=room))

    async def processing() -> bool:
        _, s, _ = await call(http, world, "chair", "GET", f"/sessions/{session_id}")
        return bool(s["status"] == "processing")

    assert await eventually(processing, timeout=30), "recording never reported complete"


async def test_agent_records_a_launched_session(
    world: World, http: aiohttp.ClientSession, agents: Agents
) -> None:
    agents.start("agent-1")
    session_id = await new_session_now(world, http)
    await launch(world, http, "chair", session_id)
    room = f"{world.province_code}-{session_id}"
    assert await eventually(lambda: recorder_present(world, room), timeout=20)

    citizen = await speaker(world, room, "citizen-1")
    await asyncio.sleep(1.5)  # the recorder subscribes to the new track
    await citizen.play(sine(440, 3.0, RATE))
    await citizen.room.disconnect()
    await end_and_wait_processing(world, http, session_id, room)

    manifest = RecordingManifest.from_json(
        (agents.spool("agent-1") / str(session_id) / "recording.json").read_text()
    )
    (track,) = [t for t in manifest.tracks if t.participant_identity == "citizen-1"]
    assert track.connection_point == "UBND xã Gia Viễn"
    assert sum(s.duration_s for s in track.segments) == pytest.approx(3.0, abs=0.2)


async def test_two_agents_one_recorder_and_takeover(
    world: World, http: aiohttp.ClientSession, agents: Agents
) -> None:
    agents.start("agent-a")
    agents.start("agent-b")
    session_id = await new_session_now(world, http)
    await launch(world, http, "chair", session_id)
    room = f"{world.province_code}-{session_id}"
    assert await eventually(lambda: recorder_present(world, room), timeout=20)
    await asyncio.sleep(5)  # several heartbeats: still only one of them records
    recording = [a for a in ("agent-a", "agent-b") if (agents.spool(a) / str(session_id)).exists()]
    assert len(recording) == 1
    owner = recording[0]
    survivor = "agent-b" if owner == "agent-a" else "agent-a"

    agents.kill(owner)
    loop = asyncio.get_running_loop()
    killed = loop.time()

    async def survivor_recording() -> bool:
        partial = agents.spool(survivor) / str(session_id) / "recording.partial.json"
        return partial.exists() and await recorder_present(world, room)

    assert await eventually(survivor_recording, timeout=25)
    assert loop.time() - killed <= 20.0
    async with lkapi(world) as lk:
        await lk.room.delete_room(api.DeleteRoomRequest(room=room))
