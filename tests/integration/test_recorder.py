"""The recorder in a real LiveKit room: rtc bots speak, ffmpeg writes, the files are checked."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio
from blockbuster import blockbuster_ctx
from faster_whisper import WhisperModel
from livekit import api

from config import Settings, locate_model
from media import RecordingManifest, RoomRecorder, SessionClock, TrackRecord, VoiceBot, mint_token
from tests.audio import dominant_frequency, sine, speak, word_error_rate

RATE = 48000
# Sent audio reaches the recorder this much later at most (jitter buffer, 100 ms frames).
IN_FLIGHT_S = 0.3
SENTENCE = "Please open the window and bring me a glass of water before the meeting starts."


def speaker_grants(room: str) -> api.VideoGrants:
    """A bot that speaks and listens (the rights a test needs, not a role's full table)."""
    return api.VideoGrants(
        room_join=True, room=room, can_publish=True, can_subscribe=True, can_publish_data=False
    )


class Stage:
    """A room with a recorder in it, and bots joining it."""

    def __init__(self, settings: Settings, lkapi: api.LiveKitAPI, room: str, out_dir: Path):
        self.settings, self.lk, self.lkapi = settings, settings.livekit, lkapi
        self.room, self.out_dir = room, out_dir
        self.clock = SessionClock()
        self.speakers: list[VoiceBot] = []

    def recorder(self, segment_s: float = 10.0) -> RoomRecorder:
        return RoomRecorder(
            self.lk, self.room, self.out_dir, self.clock, lkapi=self.lkapi, segment_s=segment_s
        )

    async def join(self, identity: str, kind: str = "citizen", point: str = "") -> VoiceBot:
        token = mint_token(
            self.lk, identity=identity, grants=speaker_grants(self.room),
            ttl=timedelta(minutes=5), name=f"Người {identity}",
            attributes={"kind": kind, "connection_point": point or f"Điểm cầu {identity}"},
        )  # fmt: skip
        speaker = await VoiceBot.join(self.lk.url, token)
        self.speakers.append(speaker)
        return speaker

    async def until(self, at: float) -> None:
        await asyncio.sleep(max(0.0, at - self.clock.now()))

    async def metadata(self) -> dict[str, object]:
        listed = await self.lkapi.room.list_rooms(api.ListRoomsRequest(names=[self.room]))
        return dict(json.loads(listed.rooms[0].metadata))


async def recorded(recorder: RoomRecorder, *speakers: VoiceBot) -> None:
    """Wait until the recorder has subscribed to each speaker's track."""
    async with asyncio.timeout(10):
        while not {s.track.sid for s in speakers} <= recorder.active_track_sids:
            await asyncio.sleep(0.02)


@pytest_asyncio.fixture
async def stage(local_stack: Settings, unique_name: str, tmp_path: Path) -> AsyncIterator[Stage]:
    async with api.LiveKitAPI(
        local_stack.livekit.http_url, local_stack.livekit.api_key,
        local_stack.livekit.api_secret.get_secret_value(),
    ) as lkapi:  # fmt: skip
        metadata = json.dumps({"session_id": 7, "title": "Phiên thử", "recording": False})
        await lkapi.room.create_room(api.CreateRoomRequest(name=unique_name, metadata=metadata))
        stage = Stage(local_stack, lkapi, unique_name, tmp_path)
        try:
            yield stage
        finally:
            for speaker in stage.speakers:
                await speaker.room.disconnect()
            await lkapi.room.delete_room(api.DeleteRoomRequest(room=unique_name))


def trimmed(pcm: np.ndarray) -> np.ndarray:
    """Without leading and trailing digital silence: what the recorder counts as audio."""
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > 4)
    return pcm[loud[0] : loud[-1] + 1]


def speech_48k(tmp_path: Path) -> np.ndarray:
    wav = speak(SENTENCE, tmp_path / "sentence.wav")
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(wav), "-f", "s16le", "-ac", "1", "-ar", str(RATE), "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    return trimmed(np.frombuffer(raw, dtype=np.int16))


def decode(path: Path, rate: int = RATE, fmt: str = "s16le") -> np.ndarray:
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", fmt, "-ac", "1", "-ar", str(rate), "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, dtype=np.int16 if fmt == "s16le" else np.float32)


def check_files(out_dir: Path, track: TrackRecord, max_s: float = 10.0) -> np.ndarray:
    """Every segment's file: hash, size, length and place; returns the track's audio."""
    parts = []
    for seg in track.segments:
        path = out_dir / seg.path
        assert path.parent == out_dir / "tracks" / track.participant_identity
        data = path.read_bytes()
        assert hashlib.sha256(data).hexdigest() == seg.sha256 and len(data) == seg.bytes
        assert 0 < seg.duration_s <= max_s
        assert seg.end_s - seg.start_s == pytest.approx(seg.duration_s, abs=1e-5)
        pcm = decode(path)
        assert len(pcm) / RATE == pytest.approx(seg.duration_s, abs=0.03), seg.path
        parts.append(pcm)
    return np.concatenate(parts)


async def test_records_each_speaker_on_one_clock(stage: Stage, tmp_path: Path) -> None:
    """A 440 Hz from t=0 for 5 s, B 880 Hz from t=2 for 4 s, C joins at t=6 and speaks."""
    speech = speech_48k(tmp_path)
    recorder = stage.recorder()
    with blockbuster_ctx(scanned_modules=["media"]):
        await recorder.start()
        assert (await stage.metadata())["recording"] is True
        a = await stage.join("a", kind="officer")
        b = await stage.join("b", kind="citizen", point="UBND xã Gia Viễn")
        await recorded(recorder, a, b)
        # The recorder listens unseen and can say nothing.
        assert "recorder" not in a.room.remote_participants
        listed = await stage.lkapi.room.list_participants(
            api.ListParticipantsRequest(room=stage.room)
        )
        [rights] = [p.permission for p in listed.participants if p.identity == "recorder"]
        assert (rights.hidden, rights.can_subscribe) == (True, True)
        assert (rights.can_publish, rights.can_publish_data) == (False, False)
        t0 = stage.clock.now() + 0.2
        planned: dict[str, float] = {}

        async def speak_at(name: str, at: float, speaker: VoiceBot, pcm: np.ndarray) -> None:
            await stage.until(at)
            planned[name] = stage.clock.now()
            await speaker.play(pcm)

        async def c_joins() -> None:
            await stage.until(t0 + 6)
            c = await stage.join("c", kind="connection_point")
            # Audio sent before the recorder's subscription completes is lost to any SFU
            # subscriber; C starts speaking once it is recorded, as a person starts once in.
            await recorded(recorder, c)
            await speak_at("c", 0, c, speech)

        await asyncio.gather(
            speak_at("a", t0, a, sine(440, 5.0)),
            speak_at("b", t0 + 2, b, sine(880, 4.0)),
            c_joins(),
        )
        await asyncio.sleep(IN_FLIGHT_S)
        assert (await stage.metadata())["recording"] is True
        manifest = await recorder.finalize()
        await recorder.aclose()
    assert await stage.metadata() == {"session_id": 7, "title": "Phiên thử", "recording": False}
    assert planned["c"] - t0 == pytest.approx(6.0, abs=1.0)

    tracks = {t.participant_identity: t for t in manifest.tracks}
    assert sorted(tracks) == ["a", "b", "c"]
    assert (tracks["b"].role, tracks["b"].connection_point) == ("citizen", "UBND xã Gia Viễn")
    assert tracks["a"].display_name == "Người a"
    published = {"a": 5.0, "b": 4.0, "c": len(speech) / RATE}
    for name, track in tracks.items():
        assert track.duration_s == pytest.approx(published[name], abs=0.2), name
        assert track.first_audio_s == pytest.approx(planned[name], abs=0.1), name
        assert track.gaps == ()
    audio = {name: check_files(stage.out_dir, track) for name, track in tracks.items()}
    assert dominant_frequency(audio["a"], RATE) == pytest.approx(440, abs=10)
    assert dominant_frequency(audio["b"], RATE) == pytest.approx(880, abs=10)

    saved = RecordingManifest.from_json((stage.out_dir / "recording.json").read_text())
    assert saved == manifest and saved.finalized_at is not None
    assert not (stage.out_dir / "recording.partial.json").exists()

    settings = stage.settings
    model = WhisperModel(
        locate_model(settings.whisper, settings.paths), device="cpu", compute_type="int8"
    )
    c_audio = np.concatenate(
        [decode(stage.out_dir / s.path, 16000, "f32le") for s in tracks["c"].segments]
    )
    segments, _ = model.transcribe(c_audio, language="en", beam_size=5)
    text = " ".join(s.text for s in segments)
    assert word_error_rate(SENTENCE, text) <= 0.25, text


async def test_mute_reconnect_and_silence(stage: Stage) -> None:
    """A mutes for 2 s, D leaves and comes back, S publishes and never speaks."""
    recorder = stage.recorder(segment_s=1.0)
    with blockbuster_ctx(scanned_modules=["media"]):
        await recorder.start()
        a, d, s = await stage.join("a"), await stage.join("d"), await stage.join("s")
        await recorded(recorder, a, d, s)

        async def a_mutes() -> tuple[float, float]:
            await a.play(sine(440, 1.5))
            a.track.mute()
            muted = stage.clock.now()
            await a.play(sine(440, 2.0))  # the microphone goes on; the track is muted
            unmuted = stage.clock.now()
            a.track.unmute()
            await a.play(sine(440, 1.5))
            return muted, unmuted

        async def d_reconnects() -> float:
            await d.play(sine(660, 1.0))
            await asyncio.sleep(IN_FLIGHT_S)
            await d.room.disconnect()
            await asyncio.sleep(1.0)
            back = stage.clock.now()
            d2 = await stage.join("d")
            await recorded(recorder, d2)
            await d2.play(sine(660, 1.0))
            return back

        (muted, unmuted), back = await asyncio.gather(a_mutes(), d_reconnects())
        await asyncio.sleep(IN_FLIGHT_S)
        manifest = await recorder.finalize()
        await recorder.aclose()

    tracks = {t.participant_identity: t for t in manifest.tracks}
    assert sorted(tracks) == ["a", "d", "s"]
    a_track, d_track, s_track = tracks["a"], tracks["d"], tracks["s"]
    assert (s_track.segments, s_track.gaps, s_track.first_audio_s) == ((), (), None)

    assert a_track.duration_s == pytest.approx(3.0, abs=0.2)
    assert [g.reason for g in a_track.gaps] == ["muted"]
    gap = a_track.gaps[0]
    assert gap.start_s == pytest.approx(muted, abs=0.15)
    after = next(s for s in a_track.segments if s.start_s >= gap.end_s)
    assert after.start_s >= unmuted and after.start_s == gap.end_s
    check_files(stage.out_dir, a_track, max_s=1.0)

    assert d_track.duration_s == pytest.approx(2.0, abs=0.2)
    assert [g.reason for g in d_track.gaps] == ["unsubscribed"]
    assert d_track.gaps[0].end_s >= back
    assert len({s.path.rsplit("-", 1)[0] for s in d_track.segments}) == 2  # two track sids
    assert dominant_frequency(check_files(stage.out_dir, d_track), RATE) == pytest.approx(
        660, abs=10
    )


async def test_restart_continues_the_recording(stage: Stage) -> None:
    """A recorder that stops mid-session is replaced by one that goes on from its files."""
    first = stage.recorder()
    with blockbuster_ctx(scanned_modules=["media"]):
        await first.start()
        a = await stage.join("a")
        await recorded(first, a)
        await a.play(sine(440, 1.5))
        await asyncio.sleep(IN_FLIGHT_S)
        await first.aclose()  # no finalize: as when the agent dies or loses its lease
        partial = RecordingManifest.from_json(
            (stage.out_dir / "recording.partial.json").read_text()
        )
        [before] = partial.tracks
        # A segment in flight at a crash stays on disk; the new recorder must not overwrite it.
        in_flight = stage.out_dir / f"tracks/a/{a.track.sid}-00001.opus"
        in_flight.write_bytes(b"OggS left by a crash")
        assert (await stage.metadata())["recording"] is False

        second = RoomRecorder(
            stage.lk, stage.room, stage.out_dir, SessionClock(stage.clock.started_at),
            lkapi=stage.lkapi,
        )  # fmt: skip
        await second.start()
        assert (await stage.metadata())["recording"] is True
        await recorded(second, a)
        restarted = stage.clock.now()
        await a.play(sine(440, 1.5))
        await asyncio.sleep(IN_FLIGHT_S)
        manifest = await second.finalize()
        await second.aclose()

    [track] = manifest.tracks
    assert track.segments[: len(before.segments)] == before.segments
    assert [s.index for s in track.segments] == [0, 2]
    assert in_flight.read_bytes() == b"OggS left by a crash"
    [gap] = track.gaps
    assert (gap.reason, gap.start_s) == ("recorder_restart", before.segments[-1].end_s)
    assert gap.end_s >= restarted
    assert track.duration_s == pytest.approx(3.0, abs=0.2)
    check_files(stage.out_dir, track)


async def test_a_stale_metadata_write_cannot_hide_the_recording(stage: Stage) -> None:
    """Another writer (the central board's observer count) writes back metadata it read before
    the flag went up: the recorder raises the flag again; after the end nothing raises it."""
    recorder = stage.recorder()
    await recorder.start()
    stale = json.dumps({"session_id": 7, "recording": False, "central_observers": 1})
    await stage.lkapi.room.update_room_metadata(
        api.UpdateRoomMetadataRequest(room=stage.room, metadata=stale)
    )
    async with asyncio.timeout(5):
        while (await stage.metadata()).get("recording") is not True:
            await asyncio.sleep(0.1)
    assert (await stage.metadata())["central_observers"] == 1  # the other writer's key is kept
    await recorder.finalize()
    await recorder.aclose()
    await asyncio.sleep(1.0)
    assert (await stage.metadata())["recording"] is False
