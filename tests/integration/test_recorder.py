"""The recorder in a real LiveKit room: rtc bots speak, ffmpeg writes, the files are checked."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import av
import numpy as np
import pytest
import pytest_asyncio
from faster_whisper import WhisperModel
from livekit import api, rtc

from config import Settings, locate_model
from media import RecordingManifest, TrackRecord, mint_token
from media.clock import SessionClock
from media.recorder import RoomRecorder
from media.voice_bot import VoiceBot
from storage.files import hash_file
from storage.spool import (
    AUDIO_SEGMENT_SUFFIX,
    VIDEO_SEGMENT_SUFFIX,
    SessionSpool,
    segment_name,
    track_dir,
)
from tests.audio import (
    TONE_REL,
    band_energy,
    dominant_frequency,
    holds_what_was_sent,
    sine,
    speech_pcm,
    word_error_rate,
)
from tests.bridge_rooms import show_colour

RATE = 48000
# Sent audio reaches the recorder this much later at most (jitter buffer, 100 ms frames).
IN_FLIGHT_S = 0.3
# What a muted microphone hears: it must not reach the record.
MUTED_HZ = 880
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


async def finished(recorder: RoomRecorder) -> RecordingManifest:
    """Let the last audio in flight arrive, then finalize the recording and leave the room."""
    await asyncio.sleep(IN_FLIGHT_S)
    manifest = await recorder.finalize()
    await recorder.aclose()
    return manifest


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
        assert path.parent == out_dir / track_dir(track.participant_identity)
        assert hash_file(path) == (seg.sha256, seg.bytes)
        assert 0 < seg.duration_s <= max_s
        assert seg.end_s - seg.start_s == pytest.approx(seg.duration_s, abs=1e-5)
        pcm = decode(path)
        assert len(pcm) / RATE == pytest.approx(seg.duration_s, abs=0.03), seg.path
        parts.append(pcm)
    return np.concatenate(parts)


async def test_records_each_speaker_on_one_clock(stage: Stage, tmp_path: Path) -> None:
    """A 440 Hz from t=0 for 5 s, B 880 Hz from t=2 for 4 s, C joins at t=6 and speaks."""
    speech = speech_pcm(SENTENCE, tmp_path / "sentence.wav")
    recorder = stage.recorder()
    await recorder.start()
    assert (await stage.metadata())["recording"] is True
    a = await stage.join("a", kind="officer")
    b = await stage.join("b", kind="citizen", point="UBND xã Gia Viễn")
    await recorded(recorder, a, b)
    # The recorder listens unseen and can say nothing.
    assert "recorder" not in a.room.remote_participants
    listed = await stage.lkapi.room.list_participants(api.ListParticipantsRequest(room=stage.room))
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
        assert holds_what_was_sent(track.duration_s, published[name]), name
        # One clock: each track's first audio where its speaker began. The first packets of a
        # track take up to a few hundred ms through the SFU's and the recorder's jitter buffers
        # (150 ms seen twice in five runs, one on a quiet machine), so 0.25 s, not 0.1.
        assert track.first_audio_s == pytest.approx(planned[name], abs=0.25), name
        # Each joined once the recorder was in: from its publication to the subscription,
        # nothing of it could be recorded, and the record says so.
        [subscribing] = track.gaps
        assert subscribing.reason == "subscribing", name
        assert 0 < subscribing.end_s - subscribing.start_s < 3.0, name
        assert subscribing.end_s <= track.first_audio_s, name
    audio = {name: check_files(stage.out_dir, track) for name, track in tracks.items()}
    assert dominant_frequency(audio["a"], RATE) == pytest.approx(440, rel=TONE_REL)
    assert dominant_frequency(audio["b"], RATE) == pytest.approx(880, rel=TONE_REL)

    spool = SessionSpool(stage.out_dir)
    saved = RecordingManifest.from_json(spool.manifest.read_text())
    assert saved == manifest and saved.finalized_at is not None
    assert not spool.partial_manifest.exists()

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


async def test_speech_before_the_subscription_is_a_subscribing_gap(stage: Stage) -> None:
    """A speaker who talks the moment their track is published: what the recorder could not yet
    receive is covered by a ``subscribing`` gap, not lost without a word (the soak found about
    1 s of every session's first words so)."""
    recorder = stage.recorder()
    await recorder.start()
    e = await stage.join("e")
    began = stage.clock.now()
    await e.play(sine(440, 3.0))
    manifest = await finished(recorder)

    [track] = manifest.tracks
    assert track.first_audio_s is not None and track.first_audio_s > began  # words were lost
    [gap] = track.gaps
    assert gap.reason == "subscribing"
    # From about the first word (the news of the track reaches the recorder a signalling hop
    # after the speaker has it) to the audio, with nothing between the gap and the audio.
    assert gap.start_s - began < 0.5
    assert track.first_audio_s - gap.end_s < 0.2


async def test_speech_before_the_recorder_came_is_a_subscribing_gap_from_the_start(
    stage: Stage,
) -> None:
    """A speaker who talked before the recorder first joined the room (a recorder comes a moment
    after the launch, and the soak's speakers spoke at once): the gap starts at the session's
    start, all the recording cannot vouch for; before, the whole first burst of every session
    was lost with no gap."""
    e = await stage.join("e")
    joined = stage.clock.now()
    await e.play(sine(440, 2.0))  # before any recorder
    recorder = stage.recorder()
    await recorder.start()
    await recorded(recorder, e)
    await e.play(sine(440, 1.0))
    manifest = await finished(recorder)

    [track] = manifest.tracks
    [gap] = track.gaps
    assert gap.reason == "subscribing"
    assert gap.start_s == 0.0
    assert track.first_audio_s is not None and gap.end_s <= track.first_audio_s
    assert gap.end_s > joined + 2.0  # the words said before the recorder came are in the gap


async def test_mute_reconnect_and_silence(stage: Stage) -> None:
    """A mutes for 2 s, D leaves and comes back, S publishes and never speaks."""
    recorder = stage.recorder(segment_s=1.0)
    await recorder.start()
    a, d, s = await stage.join("a"), await stage.join("d"), await stage.join("s")
    await recorded(recorder, a, d, s)

    async def a_mutes() -> tuple[float, float]:
        await a.play(sine(440, 1.5))
        a.track.mute()
        muted = stage.clock.now()
        await a.play(sine(MUTED_HZ, 2.0))  # the microphone goes on; the track is muted
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
    manifest = await finished(recorder)

    tracks = {t.participant_identity: t for t in manifest.tracks}
    assert sorted(tracks) == ["a", "d", "s"]
    a_track, d_track, s_track = tracks["a"], tracks["d"], tracks["s"]
    assert (s_track.segments, s_track.first_audio_s) == ((), None)
    assert [g.reason for g in s_track.gaps] == ["subscribing"]

    assert [g.reason for g in a_track.gaps] == ["subscribing", "muted"]
    gap = a_track.gaps[1]
    assert gap.start_s == pytest.approx(muted, abs=0.15)
    after = next(s for s in a_track.segments if s.start_s >= gap.end_s)
    assert after.start_s >= unmuted and after.start_s == gap.end_s
    a_audio = check_files(stage.out_dir, a_track, max_s=1.0)
    # Nothing said while muted is in the record; what was said either side is.
    assert band_energy(a_audio, MUTED_HZ, RATE) < 0.01 * band_energy(a_audio, 440, RATE)
    assert holds_what_was_sent(a_track.duration_s, 3.0)

    assert holds_what_was_sent(d_track.duration_s, 2.0)
    # Back under a new track sid, d goes on in the same set: unsubscribed, not subscribing.
    assert [g.reason for g in d_track.gaps] == ["subscribing", "unsubscribed"]
    assert d_track.gaps[1].end_s >= back
    assert len({s.path.rsplit("-", 1)[0] for s in d_track.segments}) == 2  # two track sids
    assert dominant_frequency(check_files(stage.out_dir, d_track), RATE) == pytest.approx(
        660, rel=TONE_REL
    )


async def test_restart_continues_the_recording(stage: Stage) -> None:
    """A recorder that stops mid-session is replaced by one that goes on from its files."""
    first = stage.recorder()
    await first.start()
    a = await stage.join("a")
    await recorded(first, a)
    await a.play(sine(440, 1.5))
    await asyncio.sleep(IN_FLIGHT_S)
    await first.aclose()  # no finalize: as when the agent dies or loses its lease
    partial = RecordingManifest.from_json(SessionSpool(stage.out_dir).partial_manifest.read_text())
    [before] = partial.tracks
    # A segment in flight at a crash: its index is never reused; holding no readable audio,
    # it is deleted (media.salvage), never listed nor archived.
    in_flight = stage.out_dir / segment_name("a", a.track.sid, 1, AUDIO_SEGMENT_SUFFIX)
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
    manifest = await finished(second)

    [track] = manifest.tracks
    assert track.segments[: len(before.segments)] == before.segments
    assert [s.index for s in track.segments] == [0, 2]
    assert not in_flight.exists()
    assert [g.reason for g in track.gaps] == ["subscribing", "recorder_restart"]
    gap = track.gaps[1]
    assert gap.start_s == before.segments[-1].end_s
    assert gap.end_s >= restarted
    assert holds_what_was_sent(track.duration_s, 3.0)
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


async def _unpublish_camera(bot: VoiceBot, showing: asyncio.Task[None]) -> None:
    showing.cancel()
    local = bot.room.local_participant
    [sid] = [
        sid for sid, pub in local.track_publications.items() if pub.kind == rtc.TrackKind.KIND_VIDEO
    ]
    await local.unpublish_track(sid)


def check_video(out_dir: Path, track: TrackRecord) -> list[tuple[int, int]]:
    """Every camera segment: hash, at most 640×360 and 15 fps, its length, a red picture."""
    sizes = []
    for seg in track.segments:
        path = out_dir / seg.path
        assert path.suffix == VIDEO_SEGMENT_SUFFIX and 0 < seg.duration_s <= 10.0
        assert hash_file(path) == (seg.sha256, seg.bytes)
        with av.open(str(path)) as container:
            frames = list(container.decode(video=0))
        width, height = frames[0].width, frames[0].height
        assert width <= 640 and height <= 360
        times = [float(f.time) for f in frames]
        assert times == sorted(times) and len(times) == len(set(times))
        assert len(frames) <= 15 * seg.duration_s + 1, (len(frames), seg.duration_s)
        assert len(frames) >= 8 * seg.duration_s, (len(frames), seg.duration_s)  # 30 fps halved
        assert times[-1] == pytest.approx(seg.duration_s, abs=0.2)
        # The middle frame: WebRTC may send a few black ones as a camera goes away.
        r, g, b = frames[len(frames) // 2].to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0)
        assert r > 150 and g < 80 and b < 80, (r, g, b)
        sizes.append((width, height))
    return sizes


async def test_cameras_are_recorded_only_with_video_on(stage: Stage) -> None:
    """``media.video``: a 1280×720 camera at 30 fps is written at 640×360 and at most 15 fps, in
    H.264 segments of at most 10 s on the session clock; unpublished and published again, it
    continues the same track set after a gap. A recorder with video off (the default) records
    the microphone only."""
    with_video = RoomRecorder(stage.lk, stage.room, stage.out_dir / "video", stage.clock,
                              "recorder-video", lkapi=stage.lkapi, video=True)  # fmt: skip
    audio_only = RoomRecorder(stage.lk, stage.room, stage.out_dir / "audio", stage.clock,
                              "recorder-audio", lkapi=stage.lkapi)  # fmt: skip
    await with_video.start()
    await audio_only.start()
    bot = await stage.join("cam", kind="officer")
    voice = asyncio.create_task(bot.play(sine(440, 3.0)))
    shown_at = stage.clock.now()
    showing = await show_colour(bot, (210, 20, 20), size=(1280, 720), fps=30)
    await stage.until(shown_at + 14.0)
    await _unpublish_camera(bot, showing)
    hidden_at = stage.clock.now()
    await stage.until(hidden_at + 2.0)
    shown_again_at = stage.clock.now()
    showing = await show_colour(bot, (210, 20, 20), size=(1280, 720), fps=30)
    await stage.until(shown_again_at + 3.0)
    await voice
    with_camera = await with_video.finalize()
    without = await audio_only.finalize()
    showing.cancel()
    await with_video.aclose()
    await audio_only.aclose()

    assert without.video_tracks == () and [t.participant_identity for t in without.tracks] == [
        "cam"
    ]
    assert not list((stage.out_dir / "audio").rglob(f"*{VIDEO_SEGMENT_SUFFIX}"))
    [camera] = with_camera.video_tracks
    assert (camera.participant_identity, camera.source, camera.role) == ("cam", "camera", "officer")
    assert [t.participant_identity for t in with_camera.tracks] == ["cam"]  # audio apart
    # A new camera's first frame: publishing, subscribing and a key frame take a second or two.
    assert camera.first_audio_s is not None and shown_at < camera.first_audio_s < shown_at + 2.5
    before = [s for s in camera.segments if s.end_s <= hidden_at + 0.5]
    after = [s for s in camera.segments if s.start_s >= shown_again_at]
    assert len(before) == 2 and len(after) == 1 and len(camera.segments) == 3
    assert before[1].start_s == before[0].end_s  # rotated at 10 s, no gap between
    assert before[0].duration_s == pytest.approx(10.0, abs=0.15)
    assert [g.reason for g in camera.gaps] == ["subscribing", "unsubscribed"]
    gap = camera.gaps[1]
    assert gap.start_s == pytest.approx(hidden_at, abs=0.5)
    assert shown_again_at < gap.end_s < shown_again_at + 2.5 and gap.end_s == after[0].start_s
    assert set(check_video(stage.out_dir / "video", camera)) == {(640, 360)}
    # The manifest on disk says the same.
    on_disk = RecordingManifest.from_json(
        SessionSpool(stage.out_dir / "video").manifest.read_text()
    )
    assert on_disk.video_tracks == with_camera.video_tracks
