"""What the recording faults share: speakers who talk without a pause until stopped (and leave
their rooms whatever the test's outcome)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest_asyncio

from media.voice_bot import VoiceBot
from tests.audio import sine
from tests.integration.conftest import World
from tests.integration.test_media_agent import speaker

RATE = 48000


class Talkers:
    """Speakers, one per ``(room, identity)``, each playing a tone from :meth:`talk` on."""

    def __init__(self) -> None:
        self.bots: dict[str, VoiceBot] = {}
        self._tones: dict[str, asyncio.Task[None]] = {}

    async def join(self, world: World, room: str, identity: str) -> None:
        self.bots[identity] = await speaker(world, room, identity)

    def talk(self, identity: str, freq_hz: float = 440.0, seconds: float = 120.0) -> None:
        self._tones[identity] = asyncio.create_task(
            self.bots[identity].play(sine(freq_hz, seconds, RATE)), name=f"talk:{identity}"
        )

    async def leave(self, identity: str) -> None:
        """Stop talking and leave the room."""
        tone = self._tones.pop(identity, None)
        if tone is not None:
            tone.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await tone
        bot = self.bots.pop(identity, None)
        if bot is not None:
            await bot.aclose()

    async def aclose(self) -> None:
        for identity in list(self.bots):
            with contextlib.suppress(Exception):
                await self.leave(identity)


@pytest_asyncio.fixture
async def talkers() -> AsyncIterator[Talkers]:
    """Speakers who leave their rooms after the test."""
    joined = Talkers()
    yield joined
    await joined.aclose()
