"""Who is speaking in a room, as LiveKit reports it, for the central dashboard.

LiveKit sends active-speaker updates only to subscribers of the speakers' tracks, so the watcher
is a hidden participant subscribed to every audio track; it never reads the audio itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import timedelta

from livekit import rtc

from config.settings import LiveKitSettings
from media.grants import ParticipantKind, video_grants
from media.rejoin import published
from media.room_join import join
from media.tokens import mint_token

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 20.0
LEAVE_TIMEOUT_S = 5.0
TOKEN_TTL = timedelta(hours=1)
IDENTITY = "speaker-watch"
# Its `kind` attribute: webhooks leave it out of attendance.
MONITOR_KIND = "monitor"


class SpeakerWatch:
    """A hidden listener in ``room_name`` keeping the names of who is speaking now.

    Args:
        lk: where LiveKit is, and its key pair.
        room_name: the room.
        on_change: called (without arguments) whenever the speakers change.
    """

    def __init__(self, lk: LiveKitSettings, room_name: str, on_change: Callable[[], None]) -> None:
        self._lk = lk
        self.room_name = room_name
        self._on_change = on_change
        self._room: rtc.Room | None = None
        self.speaking: tuple[str, ...] = ()

    @property
    def connected(self) -> bool:
        """Still in the room."""
        return self._room is not None and self._room.isconnected()

    async def start(self) -> None:
        """Join the room hidden, and subscribe to its audio as it is published."""
        room = self._room = rtc.Room(loop=asyncio.get_running_loop())
        room.on("track_published", self._subscribe)
        room.on("reconnected", lambda: self._subscribe_all(room))
        room.on("active_speakers_changed", self._speakers)
        token = mint_token(
            self._lk, identity=IDENTITY, ttl=TOKEN_TTL,
            grants=video_grants(ParticipantKind.RECORDER, self.room_name),
            name="speaker-watch", attributes={"kind": MONITOR_KIND},
        )  # fmt: skip
        options = rtc.RoomOptions(auto_subscribe=False)
        await join(room, self._lk.url, token, options, timeout_s=CONNECT_TIMEOUT_S)
        self._subscribe_all(room)

    def _subscribe_all(self, room: rtc.Room) -> None:
        # After the join and after the SDK's own full reconnect (media.rejoin.published).
        for publication, participant in published(room):
            self._subscribe(publication, participant)

    async def aclose(self) -> None:
        """Leave the room."""
        if self._room is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._room.disconnect(), LEAVE_TIMEOUT_S)

    def _subscribe(
        self, publication: rtc.RemoteTrackPublication, _participant: rtc.RemoteParticipant
    ) -> None:
        if publication.kind == rtc.TrackKind.KIND_AUDIO:
            publication.set_subscribed(True)

    def _speakers(self, speakers: list[rtc.Participant]) -> None:
        names = tuple(p.name or p.identity for p in speakers if p.identity != IDENTITY)
        if names != self.speaking:
            self.speaking = names
            self._on_change()
