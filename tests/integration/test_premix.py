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
from tests.integration.test_pipeline import CHAIR, CITIZEN, ended_session
from transcription.engine import decode

pytestmark = pytest.mark.postgresql_only


def premixes(spool: SessionSpool) -> list[str]:
    return [p.name for p in spool.premixes()]


def loudness(spool: SessionSpool, start_s: float, end_s: float) -> float:
    """The mix's RMS between two session times."""
    mixed = decode(spool.mixed)  # 16 kHz mono
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
            key = steps.inputs_key(steps.mix_inputs(spool, ahead=True))
            # Another premix of the same files is being made: this one does not wait for it.
            with FileLock(spool.premix_lock(key)):
                t0 = time.monotonic()
                steps.premix_session(world.settings, session_id)
                assert time.monotonic() - t0 < 5.0 and premixes(spool) == []
            steps.premix_session(world.settings, session_id)  # the citizen still to transcribe
            assert premixes(spool) == [spool.premix(key).name]
            made = spool.premix(key).stat().st_ino
            steps.transcribe_session_track(world.settings, session_id, CITIZEN.track_sid)
            steps.merge_session(session_id)
            # While the premix of its files is still being made, the mix step waits for it.
            lock = FileLock(spool.premix_lock(key))
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


async def test_a_premix_of_files_found_unreadable_since_is_not_taken(
    world: World, tmp_path: Path
) -> None:
    """The citizen's file is damaged on disk before the premix, mended, then damaged again after
    it: the premix fails and is only logged, then holds her words, which the record must not."""
    spool = SessionSpool(tmp_path / "recording")
    session_id = await ended_session(world, spool.directory, [CHAIR, CITIZEN])
    [citizen_file] = (spool.directory / "tracks" / CITIZEN.identity).glob("*.opus")
    intact = citizen_file.read_bytes()
    damaged = b"OggS but not really an opus stream " * 40

    def run() -> None:
        with progress.process_db(world.settings):
            steps.plan_session(session_id)
            steps.transcribe_session_track(world.settings, session_id, CHAIR.track_sid)
            citizen_file.write_bytes(damaged)
            steps.premix_session(world.settings, session_id)  # ffmpeg cannot open it: logged
            assert premixes(spool) == []
            citizen_file.write_bytes(intact)
            steps.premix_session(world.settings, session_id)
            [premix] = spool.premixes()
            made = premix.stat().st_ino
            citizen_file.write_bytes(damaged)
            steps.transcribe_session_track(world.settings, session_id, CITIZEN.track_sid)
            steps.merge_session(session_id)
            steps.mix_session(session_id)
            assert spool.mixed.stat().st_ino != made and premixes(spool) == []

    await asyncio.to_thread(run)
    # The chair is in the mix; the citizen's damaged file, left out of the transcript, is not.
    assert loudness(spool, 3.0, 8.0) > 0.02 and loudness(spool, 24.5, 27.0) < 0.005
