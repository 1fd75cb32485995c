"""SIGTERM, as `docker stop` sends it, on each long-running process: the media agent closes its
recorders and hands its rooms over, the worker finishes its task, the orchestrator ends its
event streams; each exits within its limit."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import numpy as np
import pytest

from storage.files import hash_file
from storage.spool import SessionSpool
from tests.audio import dominant_frequency, sine
from tests.integration.conftest import World
from tests.integration.test_launch import eventually
from tests.integration.test_media_agent import (
    RATE,
    Agents,
    launched_and_recorded,
    read_manifest,
    recorder_joined_since,
    speaker,
)
from tests.integration.test_recorder import decode


@pytest.fixture
def agents(world: World, tmp_path: Path) -> Iterator[Agents]:
    running = Agents(world, tmp_path)
    yield running
    running.stop_all()


async def test_sigterm_on_a_recording_agent_keeps_the_audio_and_hands_the_room_over(
    world: World, http: aiohttp.ClientSession, agents: Agents
) -> None:
    shared = agents.tmp_path / "shared-spool"
    agents.start("agent-old", shared)
    session_id, room = await launched_and_recorded(world, http)
    agents.start("agent-new", shared)  # after the first holds the room: it waits, idle
    spool = shared / str(session_id)
    citizen = await speaker(world, room, "citizen-s")
    await asyncio.sleep(1.5)  # the recorder subscribes to the new track

    loop = asyncio.get_running_loop()
    tone = asyncio.create_task(citizen.play(sine(440, 8.0, RATE)))
    began = loop.time()
    await asyncio.sleep(4.3)  # mid-segment (segments are 10 s): the one in flight
    proc = agents.procs.pop("agent-old")
    proc.send_signal(signal.SIGTERM)
    sent_s = loop.time() - began
    term_ms = int(time.time() * 1000)
    limit_s = world.settings.media.shutdown_timeout_s + 3  # closing, then the release call
    exit_code = await asyncio.to_thread(proc.wait, limit_s)
    stopped_s = loop.time() - began - sent_s
    assert exit_code == 0
    print(f"agent stopped {stopped_s:.2f} s after SIGTERM")

    [track] = read_manifest(SessionSpool(spool).partial_manifest).tracks
    kept_s = sum(s.duration_s for s in track.segments)
    print(f"sent {sent_s:.2f} s before SIGTERM, kept {kept_s:.2f} s")
    assert kept_s >= sent_s - 0.5, "more than the last 0.5 s lost"
    last = track.segments[-1]
    assert hash_file(spool / last.path).sha256 == last.sha256
    pcm = np.concatenate([decode(spool / s.path) for s in track.segments])
    assert len(pcm) / RATE == pytest.approx(kept_s, abs=0.05)
    assert dominant_frequency(pcm, RATE) == pytest.approx(440, abs=10)

    assert await eventually(lambda: recorder_joined_since(world, room, term_ms), timeout=10)
    took_over_s = loop.time() - began - sent_s
    print(f"second agent in the room {took_over_s:.2f} s after SIGTERM")
    assert took_over_s <= 5.0
    await tone
    await citizen.room.disconnect()
    log = (agents.tmp_path / "agent-old.log").read_text(encoding="utf-8")
    assert "leases handed back" in log
    assert f"[{room}] recording started" in (agents.tmp_path / "agent-new.log").read_text("utf-8")
