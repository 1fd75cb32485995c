"""Fault: the spool disk fills up (a small tmpfs) while one agent records two rooms, one room
ends while it is full, then space comes back. Every segment that could not be written is a gap
with reason ``storage_error``; the agent lives on and keeps recording the other room; the
finalize that failed is tried again; no empty file is listed or archived (before: "segment
lost" with no gap, the finalize's OSError ended the agent, 0-byte files were signed)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from livekit import api

from media import RecordingManifest, TrackRecord
from storage import make_s3_client
from storage.archive import SessionPlace, archive_directory, signing_key
from storage.files import hash_file
from storage.spool import AUDIO_SEGMENT_SUFFIX, SessionSpool
from tests.faults.talkers import Talkers, talkers
from tests.integration.conftest import World
from tests.integration.test_launch import call, eventually, lkapi
from tests.integration.test_media_agent import (
    Agents,
    agents,
    launched_and_recorded,
    read_manifest,
    recorder_present,
)

__all__ = ["agents", "talkers"]  # fixtures
DISK = "3m"


@pytest.fixture
def small_disk(agents: Agents, tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of :data:`DISK` mounted for this test (the agents stop before it is unmounted)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK}", "tmpfs", str(mount)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs for the full disk (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        agents.stop_all()
        subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(filler: Path) -> None:
    """Fill the disk of ``filler`` to its last byte, appending to that file."""
    with filler.open("ab", buffering=0) as f:
        for size in (1 << 16, 1 << 12, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError as e:
                assert e.errno == errno.ENOSPC


async def keep_full(filler: Path) -> None:
    """Whatever the agent frees (a segment it gives up) is taken again at once, as by another
    process writing to the same disk."""
    while True:
        await asyncio.to_thread(fill, filler)
        await asyncio.sleep(0.1)


def speaker_track(manifest: RecordingManifest, identity: str) -> TrackRecord:
    [track] = [t for t in manifest.tracks if t.participant_identity == identity]
    return track


def uncovered(track: TrackRecord) -> list[tuple[float, float]]:
    """Stretches from the first audio to the last segment's end held by no segment and no gap."""
    spans = sorted([(s.start_s, s.end_s) for s in track.segments]
                   + [(g.start_s, g.end_s) for g in track.gaps])  # fmt: skip
    # A track's head may be a subscribing gap, before the speaker's first word: not a hole.
    holes, reached = [], track.first_audio_s if track.first_audio_s is not None else spans[0][0]
    for start, end in spans:
        if start > reached + 0.05:
            holes.append((reached, start))
        reached = max(reached, end)
    return holes


async def status_of(world: World, http: aiohttp.ClientSession, session_id: int) -> str:
    _, session, _ = await call(http, world, "chair", "GET", f"/sessions/{session_id}")
    return str(session["status"])


async def test_a_full_spool_disk_is_a_gap_never_a_crash(
    world: World,
    http: aiohttp.ClientSession,
    agents: Agents,
    talkers: Talkers,
    small_disk: Path,
    unique_name: str,
) -> None:
    agents.start("agent-s", small_disk)
    rooms = [await launched_and_recorded(world, http) for _ in range(2)]
    spools = [SessionSpool(small_disk / str(session_id)) for session_id, _ in rooms]
    for i, (_, room) in enumerate(rooms):
        await talkers.join(world, room, f"citizen-{i}")
    await asyncio.sleep(1.5)  # the recorder subscribes
    for i in range(2):
        talkers.talk(f"citizen-{i}")

    async def recording_both() -> bool:
        partials = [s.partial_manifest for s in spools]
        return all(p.exists() and any(t.segments for t in read_manifest(p).tracks)
                   for p in partials)  # fmt: skip

    assert await eventually(recording_both, timeout=25)
    started = read_manifest(spools[0].partial_manifest).session_started_at

    def clock_s(spool: int) -> float:
        t0 = started if spool == 0 else read_manifest(spools[1].partial_manifest).session_started_at
        return (datetime.now(UTC) - t0).total_seconds()

    filler = small_disk / "filler"
    await asyncio.to_thread(fill, filler)
    full_s = [clock_s(0), clock_s(1)]
    full = asyncio.create_task(keep_full(filler))
    await asyncio.sleep(4.0)
    # The first room ends while the disk is full: its recording.json cannot be written.
    session_1, room_1 = rooms[0]
    await talkers.leave("citizen-0")
    async with lkapi(world) as lk:
        await lk.room.delete_room(api.DeleteRoomRequest(room=room_1))
    ended_s = clock_s(0)
    await asyncio.sleep(6.0)  # three heartbeats try to finalize it
    assert agents.procs["agent-s"].poll() is None, "the agent died of a full disk"
    assert await status_of(world, http, session_1) == "ended"
    assert await recorder_present(world, rooms[1][1]), "the other room lost its recorder"

    full.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await full
    await asyncio.to_thread(filler.unlink)
    freed_s = clock_s(1)

    async def processing(session_id: int) -> bool:
        return await status_of(world, http, session_id) == "processing"

    assert await eventually(lambda: processing(session_1), timeout=20), "finalize not retried"
    await asyncio.sleep(4.0)  # the second room is recorded again
    session_2, room_2 = rooms[1]
    await talkers.leave("citizen-1")
    async with lkapi(world) as lk:
        await lk.room.delete_room(api.DeleteRoomRequest(room=room_2))
    assert await eventually(lambda: processing(session_2), timeout=30)
    assert agents.procs["agent-s"].poll() is None

    for i, spool in enumerate(spools):
        track = speaker_track(read_manifest(spool.manifest), f"citizen-{i}")
        storage = [g for g in track.gaps if g.reason == "storage_error"]
        print(f"room {i + 1}: storage_error gaps {[(g.start_s, g.end_s) for g in storage]}")
        assert storage, f"room {i + 1}: the full disk left no storage_error gap"
        assert storage[0].start_s <= full_s[i] + 1.0
        assert uncovered(track) == [], "a loss that no gap covers"
        for segment in track.segments:
            assert hash_file(spool.directory / segment.path) == (segment.sha256, segment.bytes)
        listed = {s.path for s in track.segments}
        on_disk = {n for n in spool.files() if n.endswith(AUDIO_SEGMENT_SUFFIX)}
        assert on_disk == listed, "a segment file that recording.json does not list"
    # The room that ended while full: its gap runs to the end; the other recorded again.
    gap_1 = [g for g in speaker_track(read_manifest(spools[0].manifest), "citizen-0").gaps
             if g.reason == "storage_error"][-1]  # fmt: skip
    assert gap_1.end_s >= ended_s
    track_2 = speaker_track(read_manifest(spools[1].manifest), "citizen-1")
    assert any(s.start_s >= freed_s - 1.5 for s in track_2.segments)

    # What the archive signs of it holds no empty file.
    s3 = world.settings.s3.model_copy(update={"bucket": unique_name})
    place = SessionPlace(session_1, world.province_code, 2026)
    manifest = await asyncio.to_thread(
        archive_directory, make_s3_client(s3), s3, signing_key(world.settings), place,
        spools[0].directory, delete_local=False,
    )  # fmt: skip
    assert all(o.size > 0 for o in manifest.objects), "an empty file was signed"
