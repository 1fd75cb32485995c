"""SIGTERM, as `docker stop` sends it, on each long-running process: the media agent closes its
recorders and hands its rooms over, the worker finishes its task, the orchestrator ends its
event streams; each exits within its limit."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from livekit import api
from sqlalchemy import select

from media.speaker_watch import IDENTITY as WATCH
from orchestrator.core.vocabulary import SessionKind, SessionStatus
from orchestrator.db.models import ProcessingTrack, ReceptionSession
from storage.files import hash_file
from storage.spool import SessionSpool
from tests.audio import TONE_REL, dominant_frequency, sine
from tests.integration.conftest import World
from tests.integration.test_launch import eventually, lkapi
from tests.integration.test_media_agent import (
    RATE,
    TIEPDAN,
    Agents,
    agents,
    launched_and_recorded,
    read_manifest,
    recorder_joined_since,
    speaker,
)
from tests.integration.test_pipeline import CHAIR, ended_session, finished, session_ended, worker
from tests.integration.test_recorder import decode
from tests.loopback import free_port

__all__ = ["agents"]  # the fixture


@pytest.mark.postgresql_only
async def test_sigterm_on_a_recording_agent_keeps_the_audio_and_hands_the_room_over(
    world: World, http: aiohttp.ClientSession, agents: Agents
) -> None:
    shared = agents.tmp_path / "shared-spool"
    agents.start("agent-old", shared)
    session_id, room = await launched_and_recorded(world, http)
    agents.start("agent-new", shared)  # after the first holds the room: it waits, idle

    async def new_agent_up() -> bool:  # its imports take seconds on a loaded machine
        log = agents.tmp_path / "agent-new.log"
        return "agent agent-new: reporting" in log.read_text("utf-8")

    assert await eventually(new_agent_up, timeout=30)
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
    assert dominant_frequency(pcm, RATE) == pytest.approx(440, rel=TONE_REL)

    assert await eventually(lambda: recorder_joined_since(world, room, term_ms), timeout=10)
    took_over_s = loop.time() - began - sent_s
    print(f"second agent in the room {took_over_s:.2f} s after SIGTERM")
    assert took_over_s <= 5.0
    await tone
    await citizen.room.disconnect()
    log = (agents.tmp_path / "agent-old.log").read_text(encoding="utf-8")
    assert "leases handed back" in log
    assert f"[{room}] recording started" in (agents.tmp_path / "agent-new.log").read_text("utf-8")


@contextlib.asynccontextmanager
async def live_rooms(world: World, count: int) -> AsyncIterator[list[str]]:
    """``count`` live sessions of the world with their LiveKit rooms, for a board to watch;
    cancelled and their rooms closed afterwards."""
    now = datetime.now(UTC)
    names = [f"watched-{uuid.uuid4().hex[:8]}" for _ in range(count)]
    async with world.db() as db:
        sessions = [
            ReceptionSession(
                title="Phiên đang diễn ra",
                kind=SessionKind.PERIODIC,
                language="vi",
                agency_id=world.agencies["ninh-binh"],
                starts_at=now - timedelta(minutes=5),
                ends_at=now + timedelta(hours=1),
                status=SessionStatus.LIVE,
                room_name=name,
            )  # fmt: skip
            for name in names
        ]
        db.add_all(sessions)
        await db.commit()
    async with lkapi(world) as livekit:
        for name in names:
            await livekit.room.create_room(api.CreateRoomRequest(name=name))
        try:
            yield names
        finally:
            async with world.db() as db:
                for session in sessions:
                    (await db.merge(session)).status = SessionStatus.CANCELLED
                await db.commit()
            for name in names:
                await livekit.room.delete_room(api.DeleteRoomRequest(room=name))


async def watchers(world: World, rooms: list[str]) -> int:
    """How many of ``rooms`` have the board's speaker watch in them."""
    async with lkapi(world) as livekit:
        listed = [
            await livekit.room.list_participants(api.ListParticipantsRequest(room=name))
            for name in rooms
        ]
    return sum(any(p.identity == WATCH for p in room.participants) for room in listed)


async def no_watchers(world: World, rooms: list[str]) -> bool:
    return await watchers(world, rooms) == 0


async def test_sigterm_on_the_orchestrator_ends_open_event_streams_and_exits(
    world: World, db_url: str, tmp_path: Path
) -> None:
    """A central board left open must not hold `tiepdan serve` until docker kills it, even as
    its watches are joining the live rooms: a join given up on half-way once made the rtc SDK
    kill the process 15 s later (media.room_join)."""
    port = free_port()
    env = {**os.environ, "TIEPDAN_DB__URL": db_url, "TIEPDAN_WEB__PORT": str(port),
           "TIEPDAN_PATHS__STATE_DIR": str(world.settings.paths.state_dir)}  # fmt: skip
    async with live_rooms(world, 8) as rooms:
        with (tmp_path / "serve.log").open("wb") as log:
            proc = subprocess.Popen(
                [TIEPDAN, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        base = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as http:

                async def up() -> bool:
                    assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                    try:
                        async with http.get(f"{base}/api/v1/openapi.json") as r:
                            return r.status == 200
                    except aiohttp.ClientConnectionError:
                        return False

                assert await eventually(up, timeout=30)
                loop = asyncio.get_running_loop()
                async with http.get(f"{base}/central/events", headers=world.headers("admin")) as r:
                    assert r.status == 200
                    first = await asyncio.wait_for(r.content.readuntil(b"\n\n"), 10)
                    assert first.startswith(b"data: ")
                    # The signal as the first watch is in: the others are still joining.
                    assert await eventually(lambda: watchers(world, rooms), timeout=20)
                    proc.send_signal(signal.SIGTERM)
                    signalled = loop.time()
                    rest = await asyncio.wait_for(r.content.read(), 10)  # the server ends it
                ended_s = loop.time() - signalled
                try:
                    code = await asyncio.to_thread(proc.wait, 10)
                except subprocess.TimeoutExpired:
                    # The log has the stacks serve dumps when shutting down outlasts its
                    # timeout.
                    log_text = (tmp_path / "serve.log").read_text()
                    pytest.fail(f"serve outlived docker stop's 10 s:\n{log_text}")
                exited_s = loop.time() - signalled
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        print(f"stream ended {ended_s:.2f} s, process exited {exited_s:.2f} s after SIGTERM")
        assert b"data: " not in rest or rest.endswith(b"\n\n")  # whole events only
        assert code == 0, (tmp_path / "serve.log").read_text()
        # The stream ended at once, not at web.shutdown_timeout_s; the process well inside the
        # 10 s docker stop gives it, every room it watched left (not dropped by LiveKit later).
        assert ended_s < 1.0
        assert exited_s < 5.0
        assert await eventually(lambda: no_watchers(world, rooms), timeout=5)


@pytest.mark.postgresql_only
async def test_sigterm_on_a_worker_mid_transcription_finishes_the_track_then_exits(
    world: World, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Celery's warm shutdown: the track in hand is written (not redelivered, not lost), the
    worker exits 0, and the session goes on on the next worker instead of staying stuck."""
    directory = tmp_path / "recording"
    session_id = await ended_session(world, directory, [CHAIR])

    async def track() -> ProcessingTrack | None:
        async with world.db() as db:
            row: ProcessingTrack | None = await db.scalar(
                select(ProcessingTrack).where(ProcessingTrack.session_id == session_id)
            )
            return row

    async def running() -> bool:
        row = await track()
        return row is not None and row.state == "running"

    with worker(world.settings, tmp_path, f"stopped{uuid.uuid4().hex[:6]}") as stopped:
        session_ended(world, session_id)
        assert await eventually(running, timeout=120), "the track never started"
        stopped.send_signal(signal.SIGTERM)  # the main process only, as docker stop does
        signalled = time.monotonic()
        code = await asyncio.to_thread(stopped.wait, 180)
    print(f"worker exited {time.monotonic() - signalled:.1f} s after SIGTERM")
    assert code == 0
    done = await track()
    assert done is not None and done.state == "done" and done.attempts == 1

    with worker(world.settings, tmp_path, f"next{uuid.uuid4().hex[:6]}"):
        body = await finished(world, http, session_id, timeout=240)
    assert body["state"] == "done", body
    last = await track()
    assert last is not None and (last.attempts, last.completions) == (1, 1)
