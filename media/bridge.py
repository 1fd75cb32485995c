"""Bridges: the audio of a session room relayed into a hub room (the central hall), and back.

Self-hosted livekit-server has no room-to-room forwarding, so a bridge is two rtc participants
run by the media agent: one in the hub room that speaks with the session room's voices, named
after its province, and one in the session room that speaks with the hub's voices, as "Ban Tiếp
công dân Trung ương", only while talk-back is on. Each hears only the people of its own room:
a bridge never subscribes to a bridge participant, so no bridged sound is relayed back (no
loops, no echo), however many bridges link however many rooms.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from datetime import timedelta

import numpy as np
from livekit import rtc

from config.settings import LiveKitSettings
from media.assignments import BridgeAssignment
from media.audio_mix import FRAME_SAMPLES, RATE, JitterMixer
from media.bridge_identity import (
    BRIDGE_KIND,
    IDENTITY_PREFIX,
    TrackReaders,
    is_bridge,
    stop_task,
)
from media.bridge_video import VideoRelay
from media.grants import ParticipantKind, video_grants
from media.rejoin import published
from media.room_join import join
from media.tokens import mint_token

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 20.0
LEAVE_TIMEOUT_S = 10.0
# Only for joining: once in, LiveKit refreshes the token itself.
TOKEN_TTL = timedelta(hours=1)
# The outgoing track's queue: the pump runs this far ahead of real time, and no further.
SOURCE_QUEUE_MS = 20


class RoomTap:
    """One bridge participant in one room: hears the room's own speakers, and may speak into it.

    What it hears goes into :attr:`heard`; what it says is pulled from a mixer it is given
    (the other side's :attr:`heard`) at the outgoing track's real-time pace.

    Args:
        lk: where LiveKit is, and its key pair.
        room_name: the room; it must exist.
        identity: the participant's identity (starts with ``bridge-``).
        name: the name the room shows.
    """

    def __init__(self, lk: LiveKitSettings, room_name: str, identity: str, name: str) -> None:
        self._lk = lk
        self.room_name = room_name
        self.identity = identity
        self.name = name
        self.heard = JitterMixer()
        self._room = rtc.Room(loop=asyncio.get_running_loop())
        self._listening = False
        self._readers = TrackReaders(self._room, self._wanted, self._read)
        self._source: rtc.AudioSource | None = None
        self._publication: rtc.LocalTrackPublication | None = None
        self._pump: asyncio.Task[None] | None = None
        self.connected = False

    @property
    def room(self) -> rtc.Room:
        """The rtc room this participant is in."""
        return self._room

    async def connect(self) -> None:
        """Join the room (heard by nobody, hearing nobody until told)."""
        room = self._room
        room.on("track_published", self._maybe_subscribe)
        room.on("reconnected", lambda: self._subscribe_all(self._listening))
        room.on("disconnected", self._on_disconnected)
        token = mint_token(
            self._lk, identity=self.identity, ttl=TOKEN_TTL,
            grants=video_grants(ParticipantKind.BRIDGE, self.room_name), name=self.name,
            attributes={"kind": BRIDGE_KIND, "connection_point": self.name},
        )  # fmt: skip
        options = rtc.RoomOptions(auto_subscribe=False)
        await join(room, self._lk.url, token, options, timeout_s=CONNECT_TIMEOUT_S)
        self.connected = True

    def listen(self, on: bool) -> None:
        """Subscribe to (or drop) the audio of every non-bridge participant of the room."""
        if on == self._listening:
            return
        self._listening = on
        self._subscribe_all(on)

    def _subscribe_all(self, on: bool) -> None:
        # Also after the SDK's own full reconnect: the tracks of the rejoined room are not
        # announced again (media.rejoin.published).
        for publication, participant in published(self._room):
            if self._wanted(publication, participant):
                publication.set_subscribed(on)

    async def speak(self, mix: JitterMixer | None) -> None:
        """Publish a microphone track playing ``mix``; ``None`` unpublishes it."""
        if mix is None:
            await self._stop_speaking()
            return
        if self._pump is not None:
            return
        source = self._source = rtc.AudioSource(RATE, 1, queue_size_ms=SOURCE_QUEUE_MS)
        track = rtc.LocalAudioTrack.create_audio_track("bridge", source)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        self._publication = await asyncio.wait_for(
            self._room.local_participant.publish_track(track, options), CONNECT_TIMEOUT_S
        )
        self._pump = asyncio.create_task(self._play(mix, source), name=f"pump {self.identity}")

    async def aclose(self) -> None:
        """Stop speaking and listening, and leave the room."""
        self.connected = False
        await self._stop_speaking()
        await self._readers.aclose()
        try:
            await asyncio.wait_for(self._room.disconnect(), LEAVE_TIMEOUT_S)
        except Exception as e:  # leaving is the SFU's business too
            logger.warning("%s: leaving %s failed: %r", self.identity, self.room_name, e)

    async def _play(self, mix: JitterMixer, source: rtc.AudioSource) -> None:
        frame = rtc.AudioFrame.create(RATE, 1, FRAME_SAMPLES)
        samples = np.frombuffer(frame.data, dtype=np.int16)
        while True:
            samples[:] = mix.pull(FRAME_SAMPLES)
            # Paced by the source: it waits while SOURCE_QUEUE_MS of audio is already queued.
            await source.capture_frame(frame)

    async def _stop_speaking(self) -> None:
        pump, self._pump = self._pump, None
        await stop_task(pump)
        publication, self._publication = self._publication, None
        if publication is not None and self.connected:
            with contextlib.suppress(Exception):
                await self._room.local_participant.unpublish_track(publication.sid)
        source, self._source = self._source, None
        if source is not None:
            await source.aclose()

    def _wanted(self, publication: rtc.TrackPublication, participant: rtc.Participant) -> bool:
        return publication.kind == rtc.TrackKind.KIND_AUDIO and not is_bridge(participant)

    def _maybe_subscribe(
        self, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        if self._listening and self._wanted(publication, participant):
            publication.set_subscribed(True)

    async def _read(self, track: rtc.Track) -> None:
        stream = rtc.AudioStream.from_track(track=track, sample_rate=RATE, num_channels=1)
        try:
            async for event in stream:
                samples = np.frombuffer(event.frame.data, dtype=np.int16).copy()
                self.heard.push(track.sid, samples)
        finally:
            self.heard.remove(track.sid)
            await stream.aclose()

    def _on_disconnected(self, reason: object) -> None:
        if self.connected:
            logger.warning("%s left %s: %s", self.identity, self.room_name, reason)
        self.connected = False


class BridgeLink:
    """One running bridge: the session room heard in the hub, the hub heard while talk-back."""

    def __init__(self, lk: LiveKitSettings, assignment: BridgeAssignment) -> None:
        a = self.assignment = assignment
        # In the hub room it speaks for the session's side, in the session room for the hub.
        self.up = RoomTap(lk, a.hub_room, f"{IDENTITY_PREFIX}{a.bridge_id}-up", a.session_name)
        self.down = RoomTap(lk, a.session_room, f"{IDENTITY_PREFIX}{a.bridge_id}-down", a.hub_name)
        self._talk_back = False
        self.video: VideoRelay | None = None

    @property
    def alive(self) -> bool:
        """Both participants are still in their rooms."""
        return self.up.connected and self.down.connected

    async def start(self) -> None:
        """Join both rooms and relay the session room into the hub."""
        await asyncio.gather(self.up.connect(), self.down.connect())
        self.down.listen(True)
        await self.up.speak(self.down.heard)
        if self.assignment.video:
            self.video = VideoRelay(self.down.room, self.up.room.local_participant)
            await self.video.start()
        await self.set_talk_back(self.assignment.talk_back)

    async def set_talk_back(self, on: bool) -> None:
        """Relay the hub into the session room (or stop), hearing the hub only while needed."""
        if on == self._talk_back:
            return
        self._talk_back = on
        self.up.listen(on)
        await self.down.speak(self.up.heard if on else None)

    async def aclose(self) -> None:
        """Leave both rooms."""
        if self.video is not None:
            await self.video.aclose()
        await asyncio.gather(self.up.aclose(), self.down.aclose())


class BridgeRunner:
    """Keeps one :class:`BridgeLink` running per bridge assignment of this agent."""

    def __init__(self, lk: LiveKitSettings) -> None:
        self._lk = lk
        self.links: dict[int, BridgeLink] = {}
        # Joining two rooms takes a while: it must not hold up the agent's heartbeat.
        self._starting: dict[int, asyncio.Task[None]] = {}

    @property
    def running(self) -> list[int]:
        """Ids of the bridges relaying now (both sides in their rooms)."""
        return sorted(i for i, link in self.links.items() if link.alive)

    async def reconcile(self, assignments: list[BridgeAssignment]) -> None:
        """Start, update or stop bridges to match ``assignments``; a dead link is restarted."""
        wanted = {a.bridge_id: a for a in assignments}
        for bridge_id in [i for i in self._starting if i not in wanted]:
            self._starting.pop(bridge_id).cancel()
        for bridge_id, link in list(self.links.items()):
            if (
                bridge_id not in wanted
                or not link.alive
                or _moved(link.assignment, wanted[bridge_id])
            ):
                await self._stop(bridge_id)
        for bridge_id, a in wanted.items():
            running = self.links.get(bridge_id)
            if running is None:
                if bridge_id not in self._starting:
                    self._starting[bridge_id] = asyncio.create_task(
                        self._start(a), name=f"bridge {bridge_id}"
                    )
            else:
                running.assignment = a
                await running.set_talk_back(a.talk_back)

    async def aclose(self) -> None:
        """Stop every bridge."""
        for task in self._starting.values():
            task.cancel()
        await asyncio.gather(*self._starting.values(), return_exceptions=True)
        self._starting.clear()
        for bridge_id in list(self.links):
            await self._stop(bridge_id)

    async def _start(self, a: BridgeAssignment) -> None:
        link = BridgeLink(self._lk, a)
        try:
            await link.start()
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await link.aclose()
            raise
        except Exception:
            logger.exception("bridge %s failed to start; retrying", a.bridge_id)
            with contextlib.suppress(Exception):
                await link.aclose()
            return
        finally:
            self._starting.pop(a.bridge_id, None)
        self.links[a.bridge_id] = link
        logger.info("bridge %s: %s <-> %s", a.bridge_id, a.session_room, a.hub_room)

    async def _stop(self, bridge_id: int) -> None:
        link = self.links.pop(bridge_id)
        with contextlib.suppress(Exception):
            await link.aclose()
        logger.info("bridge %s stopped", bridge_id)


def _moved(old: BridgeAssignment, new: BridgeAssignment) -> bool:
    return dataclasses.replace(old, talk_back=new.talk_back) != new
