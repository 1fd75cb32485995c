"""The post-session pipeline end to end: a real `tiepdan worker` subprocess on the local stack's
Redis with the real Whisper model transcribes a recording directory laid out like the media
agent's, and writes the transcript, mixed audio, minutes and progress."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
import webvtt
from docx import Document
from sqlalchemy import select

from config import Settings
from media.grants import ParticipantKind
from orchestrator.core.vocabulary import SessionKind, SessionStatus, Tier
from orchestrator.db.models import (
    Attendance,
    ConnectionPoint,
    Invitation,
    ProcessingTrack,
    ReceptionSession,
    RecordingRequest,
    User,
)
from orchestrator.pipeline.session_vocabulary import session_vocabulary
from storage.spool import SessionSpool
from tests.audio import word_error_rate
from tests.integration.conftest import World
from tests.integration.test_launch import eventually
from tests.recording_fixtures import SpokenTrack, write_recording
from transcription import TaskName, create_celery, send
from transcription.engine import decode
from transcription.glossary import SessionVocabulary

TIEPDAN = str(Path(sys.executable).parent / "tiepdan")
FINAL = ("done", "done_with_warnings", "failed")

CHAIR_LINES = (
    (2.0, "The reception session is now open. Today we will hear the citizens of the northern "
          "district about the land compensation case, and every answer will be written down."),
    (40.0, "Thank you. The office will answer your request in writing within ten days."),
)  # fmt: skip
CITIZEN_LINES = ((24.0, "My family has waited two years for the compensation money."),)
CHAIR = SpokenTrack("chair-1", "Lê Văn Chủ", "chair", "Ban TCD tỉnh Ninh Bình", CHAIR_LINES)
CITIZEN = SpokenTrack("citizen-7", "Trần Thị Bình", "citizen", "UBND xã Gia Viễn", CITIZEN_LINES)
BROKEN = SpokenTrack("broken-3", "Người Hỏng", "citizen", "UBND xã Nho Quan",
                     raw_files=((10.0, b"OggS but not really an opus stream " * 40),))  # fmt: skip
EMPTY = SpokenTrack("empty-4", "Người Rỗng", "citizen", "UBND xã Nho Quan",
                    raw_files=((12.0, b""),))  # fmt: skip


@contextmanager
def worker(
    settings: Settings, tmp_path: Path, name: str, **env: str
) -> Iterator[subprocess.Popen[bytes]]:
    """A `tiepdan worker` subprocess (its own process group) on every pipeline queue, with the
    database, broker and state directory of ``settings``."""
    log = (tmp_path / f"{name}.log").open("w")
    proc = subprocess.Popen(
        [TIEPDAN, "worker", "--queues=transcribe,media,archive", f"--hostname={name}@%h"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={
            **os.environ,
            "TIEPDAN_PATHS__STATE_DIR": str(settings.paths.state_dir),
            "TIEPDAN_DB__URL": settings.db.url,
            "TIEPDAN_BROKER__URL": settings.broker.url,
            **env,
        },
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()  # warm shutdown: the task in hand is finished first
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()


async def ended_session(world: World, directory: Path, tracks: list[SpokenTrack]) -> int:
    """A session that has ended with a complete recording of ``tracks`` in ``directory``."""
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    room = f"ninh-binh-pipeline-{uuid.uuid4().hex[:8]}"
    manifest = await asyncio.to_thread(write_recording, directory, room, started, tracks)
    async with world.db() as db:
        session = ReceptionSession(
            title="Tiếp công dân định kỳ (thử pipeline)", kind=SessionKind.PERIODIC,
            agency_id=world.agencies["ninh-binh"], chair_id=world.users["chair"],
            starts_at=started, ends_at=started + timedelta(hours=1),
            status=SessionStatus.PROCESSING, language="en", room_name=room,
        )  # fmt: skip
        db.add(session)
        await db.flush()
        point = ConnectionPoint(session_id=session.id, name="UBND xã Gia Viễn", tier=Tier.COMMUNE)
        db.add(point)
        await db.flush()
        db.add(Invitation(session_id=session.id, kind=ParticipantKind.CITIZEN,
                          display_name=CITIZEN.display_name, identity=CITIZEN.identity,
                          connection_point_id=point.id))  # fmt: skip
        for i, t in enumerate(tracks):
            db.add(Attendance(session_id=session.id, identity=t.identity,
                              participant_sid=f"PA_{room}_{i}", display_name=t.display_name,
                              joined_at=started,
                              left_at=started + timedelta(minutes=2)))  # fmt: skip
        db.add(RecordingRequest(session_id=session.id, room_name=room, requested_at=started,
                                agent_id="test", completed_at=started + timedelta(minutes=2),
                                manifest_path=str(manifest)))  # fmt: skip
        await db.commit()
        return session.id


async def unrecorded_session(world: World, manifest: Path | None = None) -> int:
    """An ended session that was never recorded, or whose recording is only ``manifest``."""
    now = datetime.now(UTC).replace(microsecond=0)
    async with world.db() as db:
        session = ReceptionSession(
            title="Phiên không ghi âm", kind=SessionKind.AD_HOC,
            agency_id=world.agencies["ninh-binh"], starts_at=now - timedelta(hours=1),
            ends_at=now, status=SessionStatus.PROCESSING,
        )  # fmt: skip
        db.add(session)
        await db.flush()
        if manifest is not None:
            db.add(RecordingRequest(session_id=session.id, room_name=f"room-{session.id}",
                                    agent_id="test", completed_at=now,
                                    manifest_path=str(manifest)))  # fmt: skip
        await db.commit()
        return session.id


def session_ended(world: World, session_id: int) -> None:
    """What the orchestrator sends once per ended session."""
    app = create_celery(world.settings)
    try:
        send(app, TaskName.SESSION_ENDED, session_id)
    finally:
        app.close()


async def processing(world: World, http: aiohttp.ClientSession, session_id: int,
                     who: str = "chair") -> tuple[int, Any]:  # fmt: skip
    url = f"{world.base_url}/api/v1/sessions/{session_id}/processing"
    async with http.get(url, headers=world.headers(who)) as resp:
        return resp.status, await resp.json()


async def finished(world: World, http: aiohttp.ClientSession, session_id: int,
                   timeout: float = 240.0) -> dict[str, Any]:  # fmt: skip
    async def check() -> dict[str, Any] | None:
        _status, body = await processing(world, http, session_id)
        return body if body["state"] in FINAL else None

    body = await eventually(check, timeout=timeout)
    assert body, "the pipeline did not finish in time"
    return dict(body)


async def test_session_vocabulary_is_read_from_the_session_record(
    world: World, tmp_path: Path
) -> None:
    session_id = await ended_session(world, tmp_path / "rec", [CHAIR])
    async with world.db() as db:
        vocabulary = await session_vocabulary(db, session_id)
        chair = await db.get(User, world.users["chair"])
        assert await session_vocabulary(db, session_id + 10_000) is None
    assert chair is not None
    assert vocabulary == SessionVocabulary(
        title="Tiếp công dân định kỳ (thử pipeline)",
        agency="Ban Tiếp công dân tỉnh Ninh Bình",
        province="Ninh Bình",
        places=("UBND xã Gia Viễn",),
        people=(chair.display_name, CITIZEN.display_name),
    )


# On PostgreSQL only: the end-to-end test runs the whole pipeline on SQLite, through Celery, in
# every run of make test; this one on SQLite cost 18 s of a suite at its 30-minute budget.
@pytest.mark.postgresql_only
async def test_pipeline_writes_every_output_and_reports_broken_tracks(
    world: World, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    directory = tmp_path / "recording"
    spool = SessionSpool(directory)
    session_id = await ended_session(world, directory, [CHAIR, CITIZEN, BROKEN, EMPTY])
    status, before = await processing(world, http, session_id)
    assert status == 200 and before["state"] == "not_started"
    unrecorded_id = await unrecorded_session(world)
    # A recording whose manifest cannot be read: its pipeline gives up.
    (tmp_path / "unreadable").mkdir()
    (tmp_path / "unreadable" / "recording.json").write_text("{not json", encoding="utf-8")
    unreadable_id = await unrecorded_session(world, tmp_path / "unreadable" / "recording.json")
    with worker(world.settings, tmp_path, f"pipe{uuid.uuid4().hex[:6]}"):
        session_ended(world, session_id)
        session_ended(world, unrecorded_id)
        session_ended(world, unreadable_id)
        body = await finished(world, http, session_id)
        unrecorded = await finished(world, http, unrecorded_id)
        unreadable = await finished(world, http, unreadable_id)
    # A session without a recording has nothing to process, and says so.
    assert unrecorded["state"] == "done_with_warnings"
    assert unrecorded["warnings"] == ["Phiên không có bản ghi âm để xử lý."]
    assert unrecorded["tracks"] == [] and unrecorded["steps_done"] == []
    # A pipeline that gives up (here at once: no retry reads a corrupt manifest) fails the
    # session too, with the same reason.
    assert (unreadable["state"], unreadable["session_status"]) == ("failed", "failed")
    assert unreadable["error"].startswith("tiepdan.session_ended: ")
    assert "malformed recording manifest" in unreadable["error"]
    async with world.db() as db:
        failed = await db.get(ReceptionSession, unreadable_id)
        assert failed is not None and failed.status_reason == unreadable["error"]

    # Progress: every step, all audio handled, the broken tracks named with their reasons.
    assert body["state"] == "done_with_warnings", body
    assert body["processed_with_warnings"] is True
    # Archiving (and indexing) follow on their own queue, and may be done already.
    assert body["steps_done"][:4] == ["transcribe", "merge", "mix", "minutes"]
    assert body["percent"] == 100.0 and body["session_status"] in ("processing", "archived")
    tracks = {t["identity"]: t for t in body["tracks"]}
    assert tracks["chair-1"]["state"] == tracks["citizen-7"]["state"] == "done"
    assert tracks["broken-3"]["state"] == tracks["empty-4"]["state"] == "failed"
    assert "not readable as audio" in tracks["broken-3"]["reason"]
    assert "empty file" in tracks["empty-4"]["reason"]
    assert any("Người Hỏng" in w for w in body["warnings"])
    assert any("Người Rỗng" in w for w in body["warnings"])

    # transcript.json: each speaker's words, attributed, on the session clock.
    transcript = json.loads(spool.transcript(".json").read_text(encoding="utf-8"))
    said: dict[str, list[dict[str, Any]]] = {}
    for u in transcript["utterances"]:
        said.setdefault(u["speaker"]["identity"], []).append(u)
    assert set(said) == {"chair-1", "citizen-7"}
    assert word_error_rate(" ".join(t for _s, t in CHAIR_LINES),
                           " ".join(u["text"] for u in said["chair-1"])) <= 0.25  # fmt: skip
    assert (
        word_error_rate(CITIZEN_LINES[0][1], " ".join(u["text"] for u in said["citizen-7"])) <= 0.25
    )
    assert 23.5 <= said["citizen-7"][0]["start"] <= 26.0
    assert (
        said["chair-1"][0]["start"] < said["citizen-7"][0]["start"] < said["chair-1"][-1]["start"]
    )
    assert said["chair-1"][-1]["start"] >= 39.5
    starts = [u["start"] for u in transcript["utterances"]]
    assert starts == sorted(starts)

    # The VTT parses with a WebVTT library, voices and times intact.
    captions = webvtt.read(str(spool.transcript(".vtt"))).captions
    assert [c.voice for c in captions] == [u["speaker"]["display_name"]
                                          for u in transcript["utterances"]]  # fmt: skip
    assert spool.transcript(".srt").read_text(encoding="utf-8").startswith("1\n")
    assert "Trần Thị Bình:" in spool.transcript(".txt").read_text(encoding="utf-8")

    # mixed.opus: both voices where they spoke, silence between, nothing from the broken files.
    mixed = await asyncio.to_thread(decode, spool.mixed)
    rate = 16_000

    def loudness(start_s: float, end_s: float) -> float:
        return float(np.sqrt(np.mean(mixed[int(start_s * rate) : int(end_s * rate)] ** 2)))

    assert len(mixed) / rate == pytest.approx(CHAIR.lines[1][0] + 5.0, abs=3.0)
    assert loudness(0.0, 1.5) < 0.01  # before anyone spoke
    assert loudness(3.0, 8.0) > 0.02  # the chair
    assert loudness(24.5, 27.0) > 0.02  # the citizen, at her offset

    # minutes.docx opens, holds every speaker and every utterance's timestamp.
    doc = Document(io.BytesIO(spool.minutes.read_bytes()))
    text = "\n".join(p.text for p in doc.paragraphs) + "\n".join(
        c.text for t in doc.tables for r in t.rows for c in r.cells
    )
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text and "BIÊN BẢN" in text
    for u in transcript["utterances"]:
        assert u["speaker"]["display_name"] in text
        seconds = round(u["start"] * 1000) // 1000  # HH:MM:SS shows whole seconds
        assert f"[{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}]" in text
    assert "UBND xã Gia Viễn" in text and "Chair" in text  # connection point, chair's name

    # The same permission as reading the session.
    assert (await processing(world, http, session_id, who="other_officer"))[0] == 404
    assert (await processing(world, http, session_id, who="archivist"))[0] == 200
    async with http.get(f"{world.base_url}/api/v1/sessions/{session_id}/processing") as resp:
        assert resp.status == 401


@pytest.mark.postgresql_only
async def test_worker_killed_mid_transcription_the_track_is_redelivered_and_written_once(
    world: World, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    long_lines = tuple(
        (at, text) for at, text in zip(
            (1.0, 14.0, 27.0),
            [line for _at, line in CHAIR_LINES] + [CITIZEN_LINES[0][1]], strict=True,
        )
    )  # fmt: skip
    speaker = SpokenTrack("chair-1", "Lê Văn Chủ", "chair", "Ban TCD tỉnh Ninh Bình", long_lines)
    directory = tmp_path / "recording"
    spool = SessionSpool(directory)
    session_id = await ended_session(world, directory, [speaker])
    # A short visibility timeout, so the unacknowledged task comes back within seconds; and a
    # stale bound shorter than it, as in production (5 min against 30), or the redelivered task
    # would find the killed run's progress mark still fresh and leave the track to the sweeper.
    env = {"TIEPDAN_BROKER__VISIBILITY_TIMEOUT_S": "30", "TIEPDAN_PIPELINE__STALE_AFTER_S": "10"}

    async def track() -> ProcessingTrack | None:
        async with world.db() as db:
            row: ProcessingTrack | None = await db.scalar(
                select(ProcessingTrack).where(ProcessingTrack.session_id == session_id)
            )
            return row

    with worker(world.settings, tmp_path, f"doomed{uuid.uuid4().hex[:6]}", **env) as doomed:
        session_ended(world, session_id)
        running = await eventually(
            lambda: _is(track(), lambda t: t is not None and t.state == "running"), timeout=120
        )
        assert running, "the track never started"
        os.killpg(doomed.pid, signal.SIGKILL)  # the whole worker, mid-transcription
        doomed.wait(timeout=10)
    first = await track()
    assert first is not None and first.state == "running" and first.completions == 0
    assert not spool.transcript(".json").exists()

    with worker(world.settings, tmp_path, f"heir{uuid.uuid4().hex[:6]}", **env):
        body = await finished(world, http, session_id, timeout=240)
    assert body["state"] == "done", body
    last = await track()
    assert last is not None
    assert last.attempts == 2  # started twice: the killed run, and the redelivered one
    assert last.completions == 1  # ... and written exactly once
    transcript = json.loads(spool.transcript(".json").read_text(encoding="utf-8"))
    reference = " ".join(text for _at, text in long_lines)
    assert word_error_rate(reference, " ".join(u["text"] for u in transcript["utterances"])) <= 0.25
    # Archiving (and indexing) follow on their own queue, and may be done already.
    assert body["steps_done"][:4] == ["transcribe", "merge", "mix", "minutes"]


async def _is(value: Any, test: Any) -> bool:
    return bool(test(await value))


def test_worker_with_a_missing_model_fails_at_start_with_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    proc = subprocess.run(
        [TIEPDAN, "worker", "--queues=transcribe"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TIEPDAN_WHISPER__MODEL": str(missing)},
    )
    assert proc.returncode == 1
    assert f"cannot start the worker: Whisper model directory not found: {missing}" in proc.stderr
    assert "celery@" not in proc.stdout + proc.stderr  # it never started consuming
