"""Fault: the media agent killed (``kill -9``) while two speakers are in the middle of a
segment, then started again. What is lost of each speaker is measured: the time before the kill
that no segment holds. Pages reach the file every half second, so it is at most about 2 s
(before: the whole segment in flight, 6.5 to 11 s, and its 0-byte file archived)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import aiohttp
import pytest

from media import RecordingManifest, TrackRecord
from storage.files import hash_file
from storage.spool import AUDIO_SEGMENT_SUFFIX, SessionSpool
from tests.faults.talkers import Talkers, talkers
from tests.integration.conftest import World
from tests.integration.test_launch import eventually
from tests.integration.test_media_agent import (
    Agents,
    agents,
    end_and_wait_processing,
    launched_and_recorded,
    read_manifest,
    recorder_joined_since,
)

__all__ = ["agents", "talkers"]  # fixtures
from tests.integration.test_recorder import decode

RATE = 48000
# What a kill may lose of each speaker, besides the time until the recorder is back.
MAX_LOSS_S = 2.0
# How far into a segment the kill comes: most of a segment's audio is at stake.
INTO_SEGMENT_S = 6.5
SPEAKERS = ("citizen-a", "citizen-b")


def track_of(manifest: RecordingManifest, identity: str) -> TrackRecord:
    [track] = [t for t in manifest.tracks if t.participant_identity == identity]
    return track


async def test_agent_kill_9_loses_at_most_two_seconds_per_speaker(
    world: World, http: aiohttp.ClientSession, agents: Agents, talkers: Talkers
) -> None:
    agents.start("agent-k")
    session_id, room = await launched_and_recorded(world, http)
    spool = SessionSpool(agents.spool("agent-k") / str(session_id))
    for identity in SPEAKERS:
        await talkers.join(world, room, identity)
    await asyncio.sleep(1.5)  # the recorder subscribes to the new tracks
    # Both speak without a pause through the kill and the restart.
    for i, identity in enumerate(SPEAKERS):
        talkers.talk(identity, 440 + 220 * i)

    async def first_segments() -> RecordingManifest | None:
        if not spool.partial_manifest.exists():
            return None
        partial = read_manifest(spool.partial_manifest)
        tracks = [t for t in partial.tracks if t.participant_identity in SPEAKERS]
        return partial if len(tracks) == 2 and all(t.segments for t in tracks) else None

    partial = await eventually(first_segments, timeout=25)
    assert partial is not None, "no segment finished"
    started = partial.session_started_at
    first_end = track_of(partial, SPEAKERS[0]).segments[-1].end_s

    def clock_s() -> float:
        return (datetime.now(UTC) - started).total_seconds()

    await asyncio.sleep(max(0.0, first_end + INTO_SEGMENT_S - clock_s()))
    agents.kill("agent-k")
    killed_s = clock_s()
    restarted_ms = int(time.time() * 1000)
    agents.start("agent-k")
    assert await eventually(lambda: recorder_joined_since(world, room, restarted_ms), timeout=15)
    await asyncio.sleep(4.0)  # recorded again for a while
    for identity in SPEAKERS:
        await talkers.leave(identity)
    await end_and_wait_processing(world, http, session_id, room)

    final = read_manifest(spool.manifest)
    for identity in SPEAKERS:
        track = track_of(final, identity)
        [gap] = [g for g in track.gaps if g.reason == "recorder_restart"]
        before = [s for s in track.segments if s.end_s <= gap.start_s]
        assert before and before[-1].end_s == gap.start_s
        lost_s, rejoin_s = killed_s - gap.start_s, gap.end_s - killed_s
        print(f"{identity}: {lost_s:.2f} s lost before the kill, {rejoin_s:.2f} s until back")
        assert lost_s <= MAX_LOSS_S, f"{identity}: {lost_s:.2f} s of audio lost at the kill"
        # Every listed file holds what recording.json says, and decodes.
        for segment in track.segments:
            path = spool.directory / segment.path
            assert hash_file(path) == (segment.sha256, segment.bytes)
            samples = len(decode(path))
            assert samples == pytest.approx(segment.duration_s * RATE, abs=RATE * 0.05)
    # No file is left that the record does not list (none empty, none unreadable).
    listed = {s.path for t in final.tracks for s in t.segments}
    on_disk = {n for n in spool.files() if n.endswith(AUDIO_SEGMENT_SUFFIX)}
    assert on_disk == listed
    assert all((spool.directory / n).stat().st_size > 0 for n in on_disk)
