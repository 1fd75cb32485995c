"""An rtc participant with one microphone track that plays PCM: the demo's voices and the tests'.

It joins with whatever token it is given, so the grants (and the role they stand for) are the
caller's choice. Like the join page, it comes back by itself when the SDK gives up reconnecting
(LiveKit restarted, and the room is missing until the orchestrator recreates it).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import numpy as np
from livekit import rtc

from media.rejoin import REJOIN_INTERVAL_S, should_rejoin
from media.room_join import join

log = logging.getLogger(__name__)

RATE = 48000
CHUNK = RATE // 50  # 20 ms pushed at a time; the AudioSource paces them in real time
JOIN_TIMEOUT_S = 20.0


class VoiceBot:
    """A connected room with one published microphone track."""

    source: rtc.AudioSource
    track: rtc.LocalAudioTrack

    def __init__(self, lk_url: str, token: str) -> None:
        self._url, self._token = lk_url, token
        self.room = rtc.Room()
        self._closing = False
        self._rejoin: asyncio.Task[None] | None = None

    @classmethod
    async def join(cls, lk_url: str, token: str) -> VoiceBot:
        """Connect to ``lk_url`` with ``token`` and publish a 48 kHz mono microphone track."""
        bot = cls(lk_url, token)
        await bot._enter()
        # The source and its track are made once connected (as before rejoining existed: made
        # before the first connect, lines came out cut short), and kept across rejoins.
        bot.source = rtc.AudioSource(RATE, 1)
        bot.track = rtc.LocalAudioTrack.create_audio_track("mic", bot.source)
        await bot._publish()
        return bot

    async def _connect(self) -> None:
        await self._enter()
        await self._publish()

    async def _enter(self) -> None:
        room = self.room
        room.on("disconnected", self._on_disconnected)
        await join(room, self._url, self._token, rtc.RoomOptions(), timeout_s=JOIN_TIMEOUT_S)

    async def _publish(self) -> None:
        room = self.room
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        await asyncio.wait_for(room.local_participant.publish_track(self.track, options),
                               JOIN_TIMEOUT_S)  # fmt: skip

    def _on_disconnected(self, reason: Any) -> None:
        if self._closing or not should_rejoin(reason):
            return
        if self._rejoin is not None and not self._rejoin.done():
            return
        log.warning("voice bot left the room (%s); rejoining", reason)
        self._rejoin = asyncio.create_task(self._rejoin_until_in(), name="voice-bot-rejoin")

    async def _rejoin_until_in(self) -> None:
        while not self._closing:
            await asyncio.sleep(REJOIN_INTERVAL_S)
            self.room = rtc.Room()
            try:
                await self._connect()
            except (rtc.ConnectError, TimeoutError) as e:
                log.info("voice bot rejoin failed: %s", e)
                continue
            log.warning("voice bot rejoined")
            return

    async def push(self, pcm: np.ndarray) -> None:
        """Queue ``pcm`` (48 kHz mono int16), paced by the source: returns with the last of it
        still queued, so a next push follows on without a gap."""
        for start in range(0, len(pcm), CHUNK):
            chunk = pcm[start : start + CHUNK]
            frame = rtc.AudioFrame.create(RATE, 1, len(chunk))
            np.frombuffer(frame.data, dtype=np.int16)[:] = chunk
            await self.source.capture_frame(frame)

    async def play(self, pcm: np.ndarray) -> None:
        """Push ``pcm`` and wait until it has all been sent."""
        await self.push(pcm)
        await self.source.wait_for_playout()

    async def aclose(self) -> None:
        """Leave the room (and stop coming back to it)."""
        self._closing = True
        if self._rejoin is not None:
            self._rejoin.cancel()
            await asyncio.gather(self._rejoin, return_exceptions=True)
        await self.room.disconnect()
