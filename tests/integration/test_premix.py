"""The mix made ahead, while the session's last track is still transcribed: the pipeline's steps
run in this process (the real Whisper model, ffmpeg and database), in the order the workers run
them, with the premix between the tracks."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock

from orchestrator.pipeline import progress, steps
from storage.spool import SessionSpool
from tests.integration.conftest import World
from tests.integration.test_pipeline import CHAIR, CITIZEN, CITIZEN_LINES, ended_session
from tests.recording_fixtures import SpokenTrack
from transcription.engine import decode

pytestmark = pytest.mark.postgresql_only

# A citizen's track with a file no decoder can read after her words: the premix, made before her
# track is transcribed, cannot hold it; the transcription finds it and the mix leaves it out.
CITIZEN_WITH_A_BAD_FILE = SpokenTrack(
    "citizen-8", "Trần Thị Bình", "citizen", "UBND xã Gia Viễn", CITIZEN_LINES,
    raw_files=((32.0, b"OggS but not really an opus stream " * 40),),
)  # fmt: skip


def premixes(spool: SessionSpool) -> list[str]:
    return sorted(p.name for p in (spool.directory / "pipeline").glob("premix-*"))


def loudness(path: SessionSpool, start_s: float, end_s: float) -> float:
    mixed = decode(path.mixed)  # 16 kHz mono
    return float(np.sqrt(np.mean(mixed[int(start_s * 16_000) : int(end_s * 16_000)] ** 2)))


async def test_the_mix_step_takes_the_premix_and_waits_for_one_being_made(
    world: World, tmp_path: Path
) -> None:
    spool = SessionSpool(tmp_path / "recording")
    session_id = await ended_session(world, spool.directory, [CHAIR, CITIZEN])

    def run() -> None:
        with progress.process_db(world.settings):
            assert steps.plan_session(session_id) == sorted([CHAIR.track_sid, CITIZEN.track_sid])
            steps.transcribe_session_track(world.settings, session_id, CHAIR.track_sid)
            # Another mix holds the lock: a premix does not wait, and makes nothing.
            with FileLock(spool.mix_lock):
                t0 = time.monotonic()
                steps.premix_session(session_id)
                assert time.monotonic() - t0 < 5.0 and premixes(spool) == []
            steps.premix_session(session_id)  # the citizen's track is still to transcribe
            [premix] = premixes(spool)
            made = (spool.directory / "pipeline" / premix).stat().st_ino
            steps.transcribe_session_track(world.settings, session_id, CITIZEN.track_sid)
            steps.merge_session(session_id)
            # A premix still being made (its lock held): the mix step waits for it.
            lock = FileLock(spool.mix_lock)
            lock.acquire()
            mixing = threading.Thread(target=steps.mix_session, args=(session_id,))
            mixing.start()
            time.sleep(1.0)
            assert mixing.is_alive() and not spool.mixed.exists()
            lock.release()
            mixing.join(timeout=60)
            assert not mixing.is_alive()
            # Taken as it was made (the same file, renamed), not mixed again.
            assert spool.mixed.stat().st_ino == made and premixes(spool) == []

    await asyncio.to_thread(run)
    assert loudness(spool, 3.0, 8.0) > 0.02 and loudness(spool, 24.5, 27.0) > 0.02


async def test_a_premix_that_fails_leaves_the_mix_to_the_mix_step(
    world: World, tmp_path: Path
) -> None:
    spool = SessionSpool(tmp_path / "recording")
    session_id = await ended_session(world, spool.directory, [CHAIR, CITIZEN_WITH_A_BAD_FILE])

    def run() -> None:
        with progress.process_db(world.settings):
            steps.plan_session(session_id)
            steps.transcribe_session_track(world.settings, session_id, CHAIR.track_sid)
            steps.premix_session(session_id)  # ffmpeg cannot open the bad file: only logged
            assert premixes(spool) == []
            steps.transcribe_session_track(
                world.settings, session_id, CITIZEN_WITH_A_BAD_FILE.track_sid
            )
            steps.merge_session(session_id)
            steps.mix_session(session_id)

    await asyncio.to_thread(run)
    # The mix step mixed what the transcription could read: both voices.
    assert loudness(spool, 3.0, 8.0) > 0.02 and loudness(spool, 24.5, 27.0) > 0.02
