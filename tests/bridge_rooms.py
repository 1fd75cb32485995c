"""Rooms, voices and ears for bridge tests and the bridge benchmark (real LiveKit, rtc bots)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Self

import numpy as np
from livekit import api, rtc

from config.settings import LiveKitSettings
from media import ParticipantKind, mint_token, video_grants
from media.room_join import join
from media.voice_bot import VoiceBot

RATE = 48000
JOIN_TIMEOUT_S = 20.0


def speaker_grants(room: str) -> api.VideoGrants:
    """A bot that speaks and listens."""
    return api.VideoGrants(
        room_join=True, room=room, can_publish=True, can_subscribe=True, can_publish_data=False
    )


async def create_room(lkapi: api.LiveKitAPI, prefix: str) -> str:
    """A new, empty room with a name no other test uses."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    await lkapi.room.create_room(api.CreateRoomRequest(name=name, empty_timeout=120))
    return name


async def voice(lk: LiveKitSettings, room: str, identity: str, point: str = "") -> VoiceBot:
    """A citizen bot with a microphone in ``room``."""
    token = mint_token(
        lk, identity=identity, grants=speaker_grants(room), ttl=timedelta(minutes=10),
        name=identity, attributes={"kind": "citizen", "connection_point": point or identity},
    )  # fmt: skip
    return await VoiceBot.join(lk.url, token)


class _Follower:
    """A hidden participant in a room that follows one participant's tracks of one kind."""

    KIND: rtc.TrackKind.ValueType = rtc.TrackKind.KIND_AUDIO

    def __init__(self, room: rtc.Room, speaker: str) -> None:
        self.room, self.speaker = room, speaker
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    async def join(cls, lk: LiveKitSettings, room_name: str, speaker: str) -> Self:
        """Follow, in ``room_name``, the participant with identity ``speaker``."""
        room = rtc.Room()
        follower = cls(room, speaker)
        room.on("track_subscribed", follower._on_track)
        token = mint_token(
            lk, identity=f"follower-{uuid.uuid4().hex[:6]}",
            grants=video_grants(ParticipantKind.RECORDER, room_name),
            ttl=timedelta(minutes=10),
        )  # fmt: skip
        await join(room, lk.url, token, rtc.RoomOptions(), timeout_s=JOIN_TIMEOUT_S)
        return follower

    def _on_track(
        self, track: rtc.Track, _pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant
    ) -> None:
        if p.identity == self.speaker and track.kind == self.KIND:
            self._tasks.append(asyncio.create_task(self._follow(track)))

    async def _follow(self, track: rtc.Track) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Leave the room."""
        for task in self._tasks:
            task.cancel()
        await self.room.disconnect()


class Ear(_Follower):
    """Keeps, with arrival times, what one participant says."""

    def __init__(self, room: rtc.Room, speaker: str) -> None:
        super().__init__(room, speaker)
        self.chunks: list[tuple[float, np.ndarray]] = []

    async def _follow(self, track: rtc.Track) -> None:
        stream = rtc.AudioStream.from_track(track=track, sample_rate=RATE, num_channels=1)
        async for event in stream:
            samples = np.frombuffer(event.frame.data, dtype=np.int16).copy()
            self.chunks.append((time.monotonic(), samples))

    def since(self, t0: float) -> np.ndarray:
        """Everything heard since monotonic time ``t0``."""
        parts = [s for t, s in self.chunks if t >= t0]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)

    async def hear(self, seconds: float) -> np.ndarray:
        """What is heard during the next ``seconds``."""
        t0 = time.monotonic()
        await asyncio.sleep(seconds)
        return self.since(t0)


def rms(samples: np.ndarray) -> float:
    """Root mean square of int16 samples (0 for nothing heard)."""
    if len(samples) == 0:
        return 0.0
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


async def settled(ear: Ear, seconds: float, timeout: float = 10.0) -> np.ndarray:
    """What ``ear`` hears over ``seconds`` once a steady tone has settled. While the jitter
    buffers along the way fill, a bridged tone comes in bursts with 10 ms silences between (seen
    for a third of a second, 2.5 s after the tone began, with three rooms and two bridges
    starting at once): a frequency measured over that is off by a few per cent. Returns the
    last window heard if it never settles, for the caller's assertion to fail on."""
    deadline = time.monotonic() + timeout
    while True:
        heard = await ear.hear(seconds)
        frames = heard[: len(heard) // 480 * 480].reshape(-1, 480).astype(np.float64)
        levels = np.sqrt((frames**2).mean(axis=1))
        steady = len(levels) > 0 and levels.min() > 0.5 * float(np.median(levels))
        if steady or time.monotonic() > deadline:
            return heard


async def play_forever(bot: VoiceBot, tone: np.ndarray) -> None:
    """Loop ``tone`` on ``bot`` until cancelled, with no gap between loops: waiting for each
    loop's playout before the next left a gap of tens of milliseconds a second, which the far
    end's jitter buffer and the bridge's mixer fill with silence, so the tone heard drifted 1-3 %
    flat under load."""
    while True:
        await bot.push(tone)


async def wait_until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    """Poll ``check`` until it is true."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


async def show_colour(
    bot: VoiceBot, rgb: tuple[int, int, int], size: tuple[int, int] = (320, 180), fps: float = 10
) -> asyncio.Task[None]:
    """Publish a camera track of one solid colour on ``bot``'s room, ``fps`` frames a second."""
    width, height = size
    source = rtc.VideoSource(width, height)
    track = rtc.LocalVideoTrack.create_video_track("camera", source)
    options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA)
    await asyncio.wait_for(bot.room.local_participant.publish_track(track, options), 20)
    pixels = np.tile(np.array([*rgb, 255], dtype=np.uint8), width * height).tobytes()
    frame = rtc.VideoFrame(width, height, rtc.VideoBufferType.RGBA, pixels)

    async def loop() -> None:
        while True:
            source.capture_frame(frame)
            await asyncio.sleep(1 / fps)

    return asyncio.create_task(loop())


class Eye(_Follower):
    """Keeps the mean colour and size of one participant's camera."""

    KIND = rtc.TrackKind.KIND_VIDEO

    def __init__(self, room: rtc.Room, speaker: str) -> None:
        super().__init__(room, speaker)
        self.colour: tuple[float, float, float] | None = None
        self.size: tuple[int, int] | None = None

    async def _follow(self, track: rtc.Track) -> None:
        async for event in rtc.VideoStream(track):
            rgba = event.frame.convert(rtc.VideoBufferType.RGBA)
            pixels = np.frombuffer(rgba.data, dtype=np.uint8).reshape(-1, 4)
            r, g, b = pixels[:, :3].mean(axis=0)
            self.colour, self.size = (float(r), float(g), float(b)), (rgba.width, rgba.height)

    def sees(self, rgb: tuple[int, int, int], tolerance: float = 40.0) -> bool:
        """Whether the last frame is, on average, close to ``rgb``."""
        return self.colour is not None and all(
            abs(c - want) <= tolerance for c, want in zip(self.colour, rgb, strict=True)
        )
