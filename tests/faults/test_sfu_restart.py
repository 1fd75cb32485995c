"""livekit-server restarted mid-session: an incident, not an end.

The local stack's LiveKit is stopped and started again under a live, recorded session with rtc
SDK speakers. The session stays live, the reconciler recreates its room, the speakers and the
recorder come back, and ``recording.json`` holds an ``sfu_restart`` gap on every speaker; the
archive verifies. With nobody back within the grace, the session ends saying why.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from livekit import api
from sqlalchemy import select

from config import Settings
from config.local_stack import LocalStack
from media import RecordingManifest, TrackRecord
from orchestrator.core.vocabulary import SessionStatus
from orchestrator.db.models import AuditEntry, ReceptionSession
from storage.archive import signing_key, verify_archive
from storage.s3 import make_s3_client
from storage.spool import SessionSpool
from tests.audio import TONE_REL, dominant_frequency, sine
from tests.integration.conftest import World
from tests.integration.test_launch import call, eventually, launch, lkapi, new_session_now
from tests.integration.test_media_agent import (
    TIEPDAN,
    Agents,
    agents,
    outages,
    recorder_joined_since,
    recorder_present,
    speaker,
)
from tests.integration.test_pipeline import worker
from tests.integration.test_recorder import decode

__all__ = ["agents"]  # the fixture

RATE = 48000
# The integration world's grace (tests.integration.conftest.serve_world).
GRACE_S = 15.0


async def stop_livekit(settings: Settings) -> None:
    """Stop the local stack's livekit-server (TERM: it drains for up to 10 s, then is killed):
    it takes every room with it."""
    stack = LocalStack(settings, report=lambda _line: None)
    [part] = [p for p in stack.parts if p.name == "livekit"]
    assert await asyncio.to_thread(stack._process(part).stop)


async def start_livekit() -> None:
    """Start it again as an operator would (`tiepdan stack up`): it comes back with no rooms."""
    up = await asyncio.to_thread(
        subprocess.run, [TIEPDAN, "stack", "up"], capture_output=True, text=True, timeout=180
    )
    assert up.returncode == 0, up.stderr


async def restart_livekit(settings: Settings, down_s: float) -> None:
    """Stop livekit-server, leave it down ``down_s`` seconds, start it again."""
    await stop_livekit(settings)
    await asyncio.sleep(down_s)
    await start_livekit()


async def session_row(world: World, session_id: int) -> ReceptionSession:
    async with world.db() as db:
        row = await db.scalar(select(ReceptionSession).where(ReceptionSession.id == session_id))
    assert row is not None
    return row


async def room_actions(world: World, session_id: int) -> list[str]:
    async with world.db() as db:
        return list(await db.scalars(select(AuditEntry.action).where(
            AuditEntry.target == f"session:{session_id}", AuditEntry.action.like("room.%")
        ).order_by(AuditEntry.id)))  # fmt: skip


async def archived_and_verified(world: World, session_id: int) -> None:
    async def archived() -> bool:
        s = await session_row(world, session_id)
        assert s.status is not SessionStatus.FAILED, s.status_reason
        return s.status is SessionStatus.ARCHIVED

    assert await eventually(archived, timeout=300), "the session was not archived"
    settings = world.settings
    reports = await asyncio.to_thread(
        verify_archive, make_s3_client(settings.s3), settings.s3.bucket,
        signing_key(settings).public_key(), session_id=session_id,
    )  # fmt: skip
    assert [(r.session_id, r.ok, r.problems) for r in reports] == [(session_id, True, ())]


async def launched_and_recorded(world: World, http: aiohttp.ClientSession) -> tuple[int, str]:
    """Launch a session now and wait for a recorder in its room: (session id, room). The agent
    was started just before: under load its first heartbeat can take longer than the 20 s that
    tests/integration/test_media_agent.py allows."""
    session_id = await new_session_now(world, http)
    await launch(world, http, "chair", session_id)
    room = f"{world.province_code}-{session_id}"
    assert await eventually(lambda: recorder_present(world, room), timeout=45)
    return session_id, room


async def published_again(world: World, room: str, identities: set[str]) -> bool:
    """Whether each of ``identities`` is in ``room`` with a track published."""
    async with lkapi(world) as livekit:
        listed = await livekit.room.list_participants(api.ListParticipantsRequest(room=room))
    return identities <= {p.identity for p in listed.participants if p.tracks}


def track_of(manifest: RecordingManifest, identity: str) -> TrackRecord:
    [track] = [t for t in manifest.tracks if t.participant_identity == identity]
    return track


# 3 s: LiveKit is back while the SDKs still retry, and they reconnect by themselves; 25 s: the
# SDKs have given up, and the speakers and the recorder rejoin on their own.
@pytest.mark.parametrize("down_s", [3.0, 25.0])
async def test_livekit_restart_mid_session_is_a_gap_not_an_end(
    world: World, http: aiohttp.ClientSession, agents: Agents, tmp_path: Path, down_s: float
) -> None:
    agents.start("agent-sfu")
    session_id, room = await launched_and_recorded(world, http)
    spool = agents.spool("agent-sfu") / str(session_id)
    speakers = {who: await speaker(world, room, who) for who in ("citizen-s", "officer-s")}
    await asyncio.sleep(1.5)  # the recorder subscribes to the new tracks
    await asyncio.gather(*(bot.play(sine(440, 3.0, RATE)) for bot in speakers.values()))
    # Speaking while LiveKit goes away: what is said in the outage is the loss.
    tones = [asyncio.create_task(bot.play(sine(440, 8.0, RATE))) for bot in speakers.values()]
    await asyncio.sleep(1.0)
    restarted_ms = int(time.time() * 1000)
    await restart_livekit(world.settings, down_s)
    await asyncio.gather(*tones)

    # The session is live all along; its room is recreated, and people and recorder are back.
    assert (await session_row(world, session_id)).status is SessionStatus.LIVE
    assert await eventually(lambda: recorder_joined_since(world, room, restarted_ms), timeout=30)

    async def back() -> bool:
        return (await session_row(world, session_id)).room_lost_at is None and bool(
            await room_actions(world, session_id)
        )

    assert await eventually(back, timeout=30), "nobody came back to the recreated room"
    assert await room_actions(world, session_id) == ["room.lost", "room.back"]
    assert (await session_row(world, session_id)).status is SessionStatus.LIVE
    # "Back" is the first one back: under load a speaker may still be rejoining on its own
    # (every 2 s), and what it says meanwhile is not sent at all.
    assert await eventually(lambda: published_again(world, room, set(speakers)), timeout=30)
    await asyncio.sleep(2.0)  # the recorder subscribes to the republished tracks
    await asyncio.gather(*(bot.play(sine(880, 3.0, RATE)) for bot in speakers.values()))
    await asyncio.sleep(0.5)

    status, body, _ = await call(http, world, "chair", "POST", f"/sessions/{session_id}/end")
    assert status == 200 and body["status"] == "ended", body
    for bot in speakers.values():
        await bot.aclose()
    with worker(world.settings, tmp_path, f"sfu{uuid.uuid4().hex[:6]}"):
        await archived_and_verified(world, session_id)

    manifest = RecordingManifest.from_json(SessionSpool(spool).manifest.read_text("utf-8"))
    for who in speakers:
        track = track_of(manifest, who)
        [gap] = [g for g in track.gaps if g.reason == "sfu_restart"]
        assert not [g for g in track.gaps if g.reason == "reconnecting"], track.gaps
        before = [s for s in track.segments if s.end_s <= gap.start_s]
        after = [s for s in track.segments if s.start_s >= gap.end_s]
        assert len(before) + len(after) == len(track.segments), "a segment overlaps the gap"
        # The gap covers the outage: LiveKit drained for up to 10 s, then was down down_s.
        assert gap.end_s - gap.start_s >= down_s
        assert sum(s.duration_s for s in after) == pytest.approx(3.0, abs=0.3)
        pcm = np.concatenate([decode(spool / s.path) for s in after])
        assert dominant_frequency(pcm, RATE) == pytest.approx(880, rel=TONE_REL)
        print(f"{who}: {gap.end_s - gap.start_s:.1f} s lost to the restart (down {down_s} s)")


async def test_lost_room_nobody_rejoins_ends_the_session_after_the_grace(
    world: World, http: aiohttp.ClientSession, agents: Agents, tmp_path: Path
) -> None:
    agents.start("agent-grace")
    session_id, room = await launched_and_recorded(world, http)
    spool = agents.spool("agent-grace") / str(session_id)
    citizen = await speaker(world, room, "citizen-g")
    await asyncio.sleep(1.5)
    tone = asyncio.create_task(citizen.play(sine(440, 6.0, RATE)))
    await asyncio.sleep(2.0)
    await stop_livekit(world.settings)
    await citizen.aclose()  # the citizen's device died in the outage: nobody will come back
    await asyncio.sleep(3.0)
    await start_livekit()
    await tone

    async def ended() -> ReceptionSession | None:
        s = await session_row(world, session_id)
        return s if s.status is not SessionStatus.LIVE else None

    session = await eventually(ended, timeout=GRACE_S + 30)
    assert session is not None and session.status_reason is not None
    async with world.db() as db:
        lost, ended_at = (await db.scalars(select(AuditEntry.at).where(
            AuditEntry.target == f"session:{session_id}",
            AuditEntry.action.in_(["room.lost", "room.lost_ended"]),
        ).order_by(AuditEntry.id))).all()  # fmt: skip
    waited = (ended_at - lost).total_seconds()
    assert waited >= GRACE_S - 1, f"ended {waited:.1f} s after the room was found lost"
    assert session.status_reason.startswith("room_lost: nobody rejoined within 15 s")
    assert await room_actions(world, session_id) == ["room.lost", "room.lost_ended"]
    with worker(world.settings, tmp_path, f"grace{uuid.uuid4().hex[:6]}"):
        await archived_and_verified(world, session_id)

    track = track_of(
        RecordingManifest.from_json(SessionSpool(spool).manifest.read_text("utf-8")), "citizen-g"
    )
    # Never closed by the speaker's return: the outage gap runs to the end of the recording.
    [gap] = outages(track)
    assert gap.reason == "sfu_restart" and gap.start_s >= track.segments[0].start_s
    assert gap.end_s - gap.start_s >= GRACE_S
