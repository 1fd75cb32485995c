"""`tiepdan media` as deployed: a separate process that follows the orchestrator's leases,
records launched sessions, survives `kill -9`, and hands rooms over when an agent dies."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from livekit import api

from media import Gap, RecordingManifest, TrackRecord, mint_token
from media.voice_bot import VoiceBot
from storage.files import hash_file
from storage.spool import SessionSpool
from tests.audio import TONE_REL, dominant_frequency, holds_what_was_sent, sine
from tests.integration.conftest import World
from tests.integration.test_launch import call, eventually, launch, lkapi, new_session_now
from tests.integration.test_recorder import decode, speaker_grants

TIEPDAN = str(Path(sys.executable).parent / "tiepdan")
RATE = 48000


class Agents:
    """`tiepdan media` subprocesses, each with an id and a spool of its own."""

    def __init__(self, world: World, tmp_path: Path) -> None:
        self.world, self.tmp_path = world, tmp_path
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def spool(self, agent_id: str) -> Path:
        return self.tmp_path / agent_id

    def start(self, agent_id: str, spool: Path | None = None) -> None:
        """Start ``agent_id`` on its own spool, or on ``spool`` (shared, as in a deployment)."""
        env = {
            **os.environ,
            "TIEPDAN_PATHS__STATE_DIR": str(self.world.settings.paths.state_dir),
            "TIEPDAN_WEB__PUBLIC_URL": self.world.base_url,
        }
        with (self.tmp_path / f"{agent_id}.log").open("ab") as log:
            self.procs[agent_id] = subprocess.Popen(
                [TIEPDAN, "media", "--agent-id", agent_id, "--spool-dir",
                 str(spool or self.spool(agent_id))],
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


def outages(track: TrackRecord) -> list[Gap]:
    """The track's gaps but the ``subscribing`` one at its head (there when the speaker joined
    after the recorder)."""
    return [g for g in track.gaps if g.reason != "subscribing"]


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


async def launched_and_recorded(world: World, http: aiohttp.ClientSession) -> tuple[int, str]:
    """Launch a session now and wait for a recorder in its room: (session id, room)."""
    session_id = await new_session_now(world, http)
    await launch(world, http, "chair", session_id)
    room = f"{world.province_code}-{session_id}"
    assert await eventually(lambda: recorder_present(world, room), timeout=20)
    return session_id, room


async def end_and_wait_processing(
    world: World, http: aiohttp.ClientSession, session_id: int, room: str
) -> None:
    async with lkapi(world) as lk:
        await lk.room.delete_room(api.DeleteRoomRequest(room=room))

    async def processing() -> bool:
        _, s, _ = await call(http, world, "chair", "GET", f"/sessions/{session_id}")
        return bool(s["status"] == "processing")

    assert await eventually(processing, timeout=30), "recording never reported complete"


@pytest.mark.postgresql_only
async def test_agent_records_a_launched_session(
    world: World, http: aiohttp.ClientSession, agents: Agents
) -> None:
    agents.start("agent-1")
    session_id, room = await launched_and_recorded(world, http)

    citizen = await speaker(world, room, "citizen-1")
    await asyncio.sleep(1.5)  # the recorder subscribes to the new track
    await citizen.play(sine(440, 3.0, RATE))
    await citizen.room.disconnect()
    await end_and_wait_processing(world, http, session_id, room)

    manifest = RecordingManifest.from_json(
        SessionSpool(agents.spool("agent-1") / str(session_id)).manifest.read_text()
    )
    (track,) = [t for t in manifest.tracks if t.participant_identity == "citizen-1"]
    assert track.connection_point == "UBND xã Gia Viễn"
    assert holds_what_was_sent(sum(s.duration_s for s in track.segments), 3.0)


async def test_two_agents_one_recorder_and_takeover(
    world: World, http: aiohttp.ClientSession, agents: Agents
) -> None:
    """Agents share the spool volume: the survivor goes on with the dead agent's files, and the
    final recording.json holds the segments from before the takeover and its gap."""
    shared = agents.tmp_path / "shared-spool"
    agents.start("agent-a", shared)
    agents.start("agent-b", shared)
    session_id, room = await launched_and_recorded(world, http)
    spool = shared / str(session_id)
    citizen = await speaker(world, room, "citizen-t")
    await asyncio.sleep(1.5)  # the recorder subscribes to the new track
    await citizen.play(sine(440, 3.0, RATE))
    await asyncio.sleep(3)  # several heartbeats, and the segment closes on silence

    def started_in(agent_id: str) -> int:
        log = (agents.tmp_path / f"{agent_id}.log").read_text(encoding="utf-8")
        return log.count(f"[{room}] recording started")

    recording = [a for a in ("agent-a", "agent-b") if started_in(a)]
    assert len(recording) == 1, "exactly one agent records the room"
    owner = recording[0]
    survivor = "agent-b" if owner == "agent-a" else "agent-a"
    [before] = read_manifest(SessionSpool(spool).partial_manifest).tracks
    assert len(before.segments) == 1

    agents.kill(owner)
    loop = asyncio.get_running_loop()
    killed = loop.time()
    killed_ms = int(time.time() * 1000)
    assert await eventually(lambda: recorder_joined_since(world, room, killed_ms), timeout=25)
    took_over_s = loop.time() - killed
    print(f"taken over {took_over_s:.1f} s after the kill")
    assert took_over_s <= 20.0

    async def survivor_logged() -> bool:
        return started_in(survivor) == 1

    assert await eventually(survivor_logged, timeout=5)
    await asyncio.sleep(1.5)  # subscribed again
    await citizen.play(sine(880, 2.0, RATE))
    await citizen.room.disconnect()
    await end_and_wait_processing(world, http, session_id, room)

    [track] = read_manifest(SessionSpool(spool).manifest).tracks
    assert track.segments[0] == before.segments[0]
    [gap] = outages(track)
    assert (gap.reason, gap.start_s) == ("recorder_restart", before.segments[0].end_s)
    assert gap.end_s - gap.start_s >= took_over_s
    assert holds_what_was_sent(track.duration_s, 5.0)
    assert dominant_frequency(decode(spool / track.segments[-1].path), RATE) == pytest.approx(
        880, rel=TONE_REL
    )


async def recorder_joined_since(world: World, room: str, since_ms: int) -> bool:
    """A recorder joined at ``since_ms`` or later (a killed one lingers until LiveKit drops it)."""
    async with lkapi(world) as lk:
        listed = await lk.room.list_participants(api.ListParticipantsRequest(room=room))
    return any(p.identity == "recorder" and p.joined_at_ms >= since_ms for p in listed.participants)


def read_manifest(path: Path) -> RecordingManifest:
    return RecordingManifest.from_json(path.read_text(encoding="utf-8"))


@pytest.mark.postgresql_only
async def test_kill_9_and_restart_resumes_the_recording(
    world: World, http: aiohttp.ClientSession, agents: Agents
) -> None:
    agents.start("agent-k")
    session_id, room = await launched_and_recorded(world, http)
    spool = agents.spool("agent-k") / str(session_id)
    citizen = await speaker(world, room, "citizen-k")
    # Speaks for the first time just before the kill: the first segment is the one lost.
    late = await speaker(world, room, "citizen-f")
    await asyncio.sleep(1.5)  # the recorder subscribes to the new tracks

    def citizen_track(manifest: RecordingManifest, identity: str = "citizen-k") -> TrackRecord:
        [track] = [t for t in manifest.tracks if t.participant_identity == identity]
        return track

    async def one_segment_finished() -> bool:
        partial = SessionSpool(spool).partial_manifest
        tracks = read_manifest(partial).tracks if partial.exists() else ()
        return any(t.participant_identity == "citizen-k" and t.segments for t in tracks)

    tone = asyncio.create_task(citizen.play(sine(440, 14.0, RATE)))
    assert await eventually(one_segment_finished, timeout=20)
    await late.play(sine(660, 1.0, RATE))
    await asyncio.sleep(0.5)  # into the next segment: the one in flight is lost
    agents.kill("agent-k")
    partial = read_manifest(SessionSpool(spool).partial_manifest)
    before, late_before = citizen_track(partial), citizen_track(partial, "citizen-f")
    assert late_before.segments == () and late_before.first_audio_s is not None
    await tone

    restarted_ms = int(time.time() * 1000)
    loop = asyncio.get_running_loop()
    started = loop.time()
    agents.start("agent-k")
    assert await eventually(lambda: recorder_joined_since(world, room, restarted_ms), timeout=15)
    back_in_s = loop.time() - started
    print(f"back in the room {back_in_s:.2f} s after the restart")
    assert back_in_s <= 5.0
    await asyncio.sleep(1.5)  # subscribed again
    await asyncio.gather(citizen.play(sine(880, 3.0, RATE)), late.play(sine(660, 1.0, RATE)))
    await citizen.room.disconnect()
    await late.room.disconnect()
    await end_and_wait_processing(world, http, session_id, room)

    track = citizen_track(read_manifest(SessionSpool(spool).manifest))
    assert track.segments[: len(before.segments)] == before.segments
    for segment in track.segments:
        assert hash_file(spool / segment.path).sha256 == segment.sha256
    # The segment in flight at the kill is kept as the audio it holds (media.salvage).
    unfinished = track.segments[len(before.segments)]
    assert unfinished.start_s == before.segments[-1].end_s and unfinished.duration_s > 0
    [gap] = [g for g in track.gaps if g.reason == "recorder_restart"]
    assert gap.start_s == unfinished.end_s
    after = [s for s in track.segments if s.start_s >= gap.end_s]
    assert holds_what_was_sent(sum(s.duration_s for s in after), 3.0)
    pcm = np.concatenate([decode(spool / s.path) for s in after])
    assert dominant_frequency(pcm, RATE) == pytest.approx(880, rel=TONE_REL)
    late_track = citizen_track(read_manifest(SessionSpool(spool).manifest), "citizen-f")
    [late_gap] = outages(late_track)
    # Its first segment, unfinished at the kill, holds what reached the file.
    late_first = late_track.segments[0]
    assert late_first.start_s == late_before.first_audio_s
    assert (late_gap.reason, late_gap.start_s) == ("recorder_restart", late_first.end_s)
    assert holds_what_was_sent(late_track.duration_s - late_first.duration_s, 1.0)
    assert late_track.segments[1].start_s >= late_gap.end_s
    log = (agents.tmp_path / "agent-k.log").read_text(encoding="utf-8")
    assert log.count(f"[{room}] recording started") == 2
    assert f"[{room}] track added: citizen-k" in log
    assert f"[{room}] gap on citizen-k: recorder_restart" in log
    assert f"[{room}] track lost: citizen-k" in log
    assert f"[{room}] recording finalized" in log
