"""An rtc participant with one microphone track that plays PCM: the demo's voices and the tests'.

It joins with whatever token it is given, so the grants (and the role they stand for) are the
caller's choice.
"""

from __future__ import annotations

import asyncio

import numpy as np
from livekit import rtc

RATE = 48000
CHUNK = RATE // 50  # 20 ms pushed at a time; the AudioSource paces them in real time
JOIN_TIMEOUT_S = 20.0


class VoiceBot:
    """A connected room with one published microphone track."""

    def __init__(self, room: rtc.Room, source: rtc.AudioSource, track: rtc.LocalAudioTrack):
        self.room, self.source, self.track = room, source, track

    @classmethod
    async def join(cls, lk_url: str, token: str) -> VoiceBot:
        """Connect to ``lk_url`` with ``token`` and publish a 48 kHz mono microphone track."""
        room = rtc.Room()
        await asyncio.wait_for(room.connect(lk_url, token), timeout=JOIN_TIMEOUT_S)
        source = rtc.AudioSource(RATE, 1)
        track = rtc.LocalAudioTrack.create_audio_track("mic", source)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        await asyncio.wait_for(room.local_participant.publish_track(track, options), JOIN_TIMEOUT_S)
        return cls(room, source, track)

    async def play(self, pcm: np.ndarray) -> None:
        """Push ``pcm`` (48 kHz mono int16) and wait until it has all been sent."""
        for start in range(0, len(pcm), CHUNK):
            chunk = pcm[start : start + CHUNK]
            frame = rtc.AudioFrame.create(RATE, 1, len(chunk))
            np.frombuffer(frame.data, dtype=np.int16)[:] = chunk
            await self.source.capture_frame(frame)
        await self.source.wait_for_playout()

    async def aclose(self) -> None:
        """Leave the room."""
        await self.room.disconnect()
