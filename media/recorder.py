"""The hidden recorder of one room: every speaker's audio, on one session clock."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from livekit import api, rtc
from livekit.rtc.room import EventTypes

from config.settings import LiveKitSettings
from media.clock import SessionClock
from media.errors import RecorderError
from media.grants import ParticipantKind, video_grants
from media.manifest import RecordingManifest, TrackRecord
from media.rejoin import REJOIN_INTERVAL_S, published, should_rejoin
from media.room_join import join
from media.salvage import salvage_segment, unlisted_audio, with_salvaged
from media.segment_writer import MAX_SEGMENT_S
from media.speakers import SpeakerTracks
from media.tokens import mint_token
from storage.files import write_atomic
from storage.spool import PARTIAL_MANIFEST, SessionSpool

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 20.0
API_TIMEOUT_S = 10.0
LEAVE_TIMEOUT_S = 10.0
# Only for joining: once in, LiveKit refreshes the recorder's token itself.
TOKEN_TTL = timedelta(hours=1)


class RoomRecorder:
    """A hidden participant that records each speaker of ``room_name`` to ``out_dir``.

    Every audio track is subscribed and written as Ogg/Opus segments by
    :class:`media.segment_writer.SegmentWriter`, one file set per speaker; with ``video``, every
    camera too, as H.264 segments (:mod:`media.video_segments`). After every finished
    segment ``recording.partial.json`` is rewritten. While it records, the room's metadata says
    ``"recording": true``. Started again on the same ``out_dir`` with a clock of the same start
    (after a crash, or by another agent), it continues from ``recording.partial.json``.

    Args:
        lk: where LiveKit is, and its key pair.
        room_name: the room; it must exist (rooms are created by the orchestrator).
        out_dir: the recording's directory (created if missing).
        clock: the session clock.
        identity: the recorder's participant identity.
        lkapi: a server API client to share; by default the recorder opens (and closes) its own.
        segment_s: the longest segment, at most (and by default) 10 s.
        video: record cameras as well (``media.video``; off by default).
    """

    def __init__(
        self,
        lk: LiveKitSettings,
        room_name: str,
        out_dir: Path,
        clock: SessionClock,
        identity: str = "recorder",
        *,
        lkapi: api.LiveKitAPI | None = None,
        segment_s: float = MAX_SEGMENT_S,
        video: bool = False,
    ) -> None:
        self._lk = lk
        self.room_name = room_name
        self.out_dir = out_dir
        self._spool = SessionSpool(out_dir)
        self._clock = clock
        self._identity = identity
        self._video = video
        self._lkapi = lkapi
        self._owns_lkapi = lkapi is None
        self._extra = {"room": room_name}
        self._taken: set[str] = set()
        self._tracks = SpeakerTracks(
            out_dir=out_dir, clock=clock, segment_s=segment_s, on_change=self._persist,
            taken=self._taken, log_extra=self._extra,
        )  # fmt: skip
        self._room: rtc.Room | None = None
        self._resumed = False
        self._stopped = False
        self._joined = False  # the room joined once by this recorder
        self._persist_lock = asyncio.Lock()
        self._dirty = False
        self._final: RecordingManifest | None = None
        self._flag_task: asyncio.Task[object] | None = None
        self._rejoin_task: asyncio.Task[None] | None = None
        # The room's sid on the SFU when last joined: a different one after a reconnect means
        # the room was recreated.
        self._room_sid: str | None = None

    @property
    def active_track_sids(self) -> frozenset[str]:
        """The LiveKit tracks being recorded now."""
        return self._tracks.active_sids

    async def start(self) -> None:
        """Resume what is on disk, join the room, raise the recording flag, subscribe to audio.

        Raises:
            RecorderError: the room cannot be joined, or ``out_dir`` holds another recording.
        """
        await self._resume()
        await self._persist()
        await self._join()
        logger.info("recording started in %s", self.room_name, extra=self._extra)

    async def _join(self) -> None:
        """Connect to the room, raise the recording flag, subscribe to what is published."""
        if self._room is not None:
            # A room the SDK gave up on is released first: left alone, it kept the new room's
            # audio streams from getting any frame.
            await self._leave()
        room = self._room = rtc.Room(loop=asyncio.get_running_loop())

        def on(event: EventTypes, handler: Callable[..., object]) -> None:
            # Only while this is the recorder's room: one left behind (a join given up on
            # leaves once in, media.room_join) speaks no more for the recording.
            room.on(event, lambda *args: handler(*args) if room is self._room else None)

        on("track_published", self._on_published)
        on("track_subscribed", self._tracks.subscribed)
        on("track_unsubscribed", lambda _t, pub, p: self._tracks.unsubscribed(pub, p))
        on("track_muted", lambda _p, pub: self._tracks.muted(pub))
        on("track_unmuted", lambda _p, pub: self._tracks.unmuted(pub))
        on("participant_attributes_changed", lambda _c, p: self._tracks.relabel(p))
        on("participant_name_changed", lambda p, _o, _n: self._tracks.relabel(p))
        on("reconnecting", self._on_reconnecting)
        on("reconnected", self._on_reconnected)
        on("disconnected", self._on_disconnected)
        on("room_metadata_changed", self._on_metadata_changed)
        token = mint_token(
            self._lk, identity=self._identity, ttl=TOKEN_TTL, name="recorder",
            grants=video_grants(ParticipantKind.RECORDER, self.room_name),
            attributes={"kind": ParticipantKind.RECORDER},
        )  # fmt: skip
        options = rtc.RoomOptions(auto_subscribe=False)  # video only when it is recorded
        try:
            await join(room, self._lk.url, token, options, timeout_s=CONNECT_TIMEOUT_S)
        except (rtc.ConnectError, TimeoutError) as e:
            raise RecorderError(f"cannot join {self.room_name}: {e}", retryable=True) from e
        # Raised as soon as the recorder is in: people must know they are recorded.
        await self._back_in_room()
        first = not (self._joined or self._tracks.known)
        self._joined = True
        self._subscribe_all(room, from_start=first)

    async def _back_in_room(self) -> None:
        """In the room (again): raise the flag (a recreated room's metadata does not have it)
        and, if the room is not the one left, say the outage was the SFU's restart."""
        sid = await self._set_recording_flag(True)
        if sid and self._room_sid and sid != self._room_sid:
            logger.warning("%s was recreated (the SFU lost it): its outage gaps are sfu_restart",
                           self.room_name, extra=self._extra)  # fmt: skip
            self._tracks.reclassify_all("reconnecting", "sfu_restart")
        self._room_sid = sid or self._room_sid

    def snapshot(self) -> RecordingManifest:
        """The recording as it stands: finished segments and gaps, ``finalized_at`` unset."""
        return RecordingManifest(
            room=self.room_name,
            session_started_at=self._clock.started_at,
            finalized_at=None,
            tracks=self._tracks.records(),
            video_tracks=self._tracks.video_records(),
        )

    async def finalize(self) -> RecordingManifest:
        """Leave the room, close every segment, write ``recording.json`` and lower the flag.

        On a recorder that was never started (the session ended while no agent recorded it),
        this finalizes what an earlier recorder left in ``out_dir``; one that an earlier
        recorder finalized already is returned as it was written. A call that failed (the
        disk is full) may be made again.

        Returns:
            The final manifest (the same one on a second call).

        Raises:
            OSError: ``recording.json`` could not be written.
        """
        if self._final is not None:
            return self._final
        if not self._resumed:
            self._final = await asyncio.to_thread(self._finalized_before)
            if self._final is not None:
                return self._final
        await self._resume()
        if not self._stopped:
            await self._stop()
        manifest = RecordingManifest(
            room=self.room_name, session_started_at=self._clock.started_at,
            finalized_at=datetime.now(UTC), tracks=self._tracks.records(),
            video_tracks=self._tracks.video_records(),
        )  # fmt: skip
        await asyncio.to_thread(self._write_final, manifest)
        self._final = manifest
        await self._set_recording_flag(False)
        logger.info(
            "recording finalized in %s: %d tracks, %d segments", self.room_name,
            len(manifest.tracks), sum(len(t.segments) for t in manifest.tracks),
            extra=self._extra,
        )  # fmt: skip
        return manifest

    async def aclose(self) -> None:
        """Leave without finalizing: segments closed, the partial manifest kept for a resume."""
        if self._room is not None and not self._stopped:
            await self._stop()
            await self._set_recording_flag(False)
        if self._owns_lkapi and self._lkapi is not None:
            await self._lkapi.aclose()
            self._lkapi = None

    def _subscribe_all(self, room: rtc.Room, *, from_start: bool) -> None:
        """Subscribe to every track already published: those the room had when it was joined
        (the SDK announces no ``track_published`` for them), and after the SDK's own full
        reconnect, those the rejoined room had (announced neither: without this, a speaker who
        was back before the recorder was never recorded again).

        What such a track carried before is unheard: since its publisher joined, or, at a new
        recording's first join (``from_start``), since the session began. A room recreated
        while the recorder was still kept out (LiveKit restarted at the launch) holds only those
        who joined it again: the soak's speakers lost 10 s that no gap covered."""
        for publication, participant in published(room):
            if self._subscribe(publication, participant):
                since = self._clock.started_at if from_start else participant.joined_at
                self._tracks.published(publication, since=since)

    def _on_published(
        self, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        if self._subscribe(publication, participant):
            self._tracks.published(publication)

    def _subscribe(
        self, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> bool:
        """Subscribe to ``publication`` if it is recorded; whether it is."""
        if self._stopped:
            return False
        camera = self._video and publication.source == rtc.TrackSource.SOURCE_CAMERA
        if publication.kind != rtc.TrackKind.KIND_AUDIO and not camera:
            return False
        publication.set_subscribed(True)
        if camera and publication.simulcasted:
            # The middle layer (360 lines of a 720p camera) is what is recorded: the SFU sends
            # that instead of 720p for the recorder to decode and scale down (a third the CPU).
            publication.set_video_quality(rtc.VideoQuality.VIDEO_QUALITY_MEDIUM)
        return True

    def _on_reconnecting(self) -> None:
        logger.warning("recorder reconnecting to %s", self.room_name, extra=self._extra)
        self._tracks.block_all("reconnecting")

    def _on_reconnected(self) -> None:
        logger.info("recorder reconnected to %s", self.room_name, extra=self._extra)
        self._flag_task = asyncio.create_task(self._reconnected(), name=f"back:{self.room_name}")

    async def _reconnected(self) -> None:
        await self._back_in_room()
        if self._room is not None:
            self._subscribe_all(self._room, from_start=False)
        self._tracks.unblock_all("reconnecting")

    def _on_metadata_changed(self, _old: str, new: str) -> None:
        # Room metadata has no compare-and-set: another writer (the central board's observer
        # count) may write back a copy read before our flag went up. Put it back at once.
        if self._stopped or recording_flag(new):
            return
        if self._flag_task is None or self._flag_task.done():
            logger.warning("recording flag lost in %s; raising it again", self.room_name,
                           extra=self._extra)  # fmt: skip
            self._flag_task = asyncio.create_task(self._set_recording_flag(True))

    def _on_disconnected(self, reason: Any) -> None:
        if self._stopped:
            return
        logger.warning("recorder left %s: %s", self.room_name, reason, extra=self._extra)
        if not should_rejoin(reason):
            # Sent away (the room closed at the session's end, another recorder took over): no
            # outage, the tracks just stop here.
            self._tracks.block_all("unsubscribed")
            return
        self._tracks.block_all("reconnecting")
        if self._rejoin_task is None or self._rejoin_task.done():
            self._rejoin_task = asyncio.create_task(self._rejoin(), name=f"rejoin:{self.room_name}")

    async def _rejoin(self) -> None:
        """Join again until in (the room may be missing until the orchestrator recreates it)."""
        while not self._stopped:
            await asyncio.sleep(REJOIN_INTERVAL_S)
            try:
                await self._join()
            except RecorderError as e:
                logger.warning("rejoining failed: %s", e, extra=self._extra)
                continue
            logger.info("recorder rejoined %s", self.room_name, extra=self._extra)
            self._tracks.unblock_all("reconnecting")
            return

    async def _persist(self) -> None:
        """Rewrite the partial manifest; callers queued meanwhile share one write."""
        self._dirty = True
        async with self._persist_lock:
            if not self._dirty:
                return
            self._dirty = False
            manifest = self.snapshot()
            path = self._spool.partial_manifest
            try:
                # Serialised in the thread as well: a long session's manifest is large.
                await asyncio.to_thread(lambda: write_atomic(path, manifest.to_json()))
            except OSError as e:
                # Recording goes on; the next change writes it all again, and whatever a crash
                # meanwhile leaves unlisted is salvaged from the files themselves.
                self._dirty = True
                logger.error("cannot write %s: %s", path.name, e, extra=self._extra)

    async def _resume(self) -> None:
        """Take over the track sets of ``recording.partial.json``, if an earlier run left one."""
        if self._resumed:
            return
        self._resumed = True
        await asyncio.to_thread(self.out_dir.mkdir, parents=True, exist_ok=True)
        self._taken.update(await asyncio.to_thread(self._spool.files))
        if PARTIAL_MANIFEST not in self._taken:
            return
        partial = self._spool.partial_manifest
        previous = RecordingManifest.from_json(await asyncio.to_thread(partial.read_text, "utf-8"))
        if previous.room != self.room_name or previous.session_started_at != self._clock.started_at:
            raise RecorderError(
                f"{self.out_dir} holds the recording of {previous.room} started at "
                f"{previous.session_started_at.isoformat()}", retryable=False,
            )  # fmt: skip
        tracks = await self._salvage(previous.tracks)
        self._tracks.resume(tracks + previous.video_tracks)
        logger.info(
            "recording resumed in %s: %d tracks", self.room_name, len(tracks), extra=self._extra
        )

    async def _salvage(self, tracks: tuple[TrackRecord, ...]) -> tuple[TrackRecord, ...]:
        """``tracks`` with the segments an earlier recorder left unfinished (:mod:`media.salvage`);
        the unfinished files that hold nothing readable are deleted."""
        found = []
        for name in unlisted_audio(self._taken, tracks):
            salvaged = await asyncio.to_thread(salvage_segment, self.out_dir, name)
            if salvaged is None:
                logger.warning("%s holds no readable audio; deleted", name, extra=self._extra)
                await asyncio.to_thread((self.out_dir / name).unlink, missing_ok=True)
                continue
            logger.info(
                "unfinished segment %s kept: %.3f s from %.3f s", name,
                salvaged.segment.duration_s, salvaged.segment.start_s, extra=self._extra,
            )  # fmt: skip
            found.append(salvaged)
        return with_salvaged(tracks, found)

    async def _stop(self) -> None:
        """Close every track, then leave the room (each step time-limited)."""
        self._stopped = True
        if self._rejoin_task is not None:
            self._rejoin_task.cancel()
            await asyncio.gather(self._rejoin_task, return_exceptions=True)
        if self._flag_task is not None:
            await self._flag_task  # before the flag is lowered, never after
        await self._tracks.aclose()
        await self._leave()
        await self._persist()

    def _finalized_before(self) -> RecordingManifest | None:
        """``recording.json`` as an earlier recorder wrote it, if it finalized this room."""
        if self._spool.partial_manifest.exists() or not self._spool.manifest.exists():
            return None
        return RecordingManifest.from_json(self._spool.manifest.read_text(encoding="utf-8"))

    async def _leave(self) -> None:
        if self._room is None:
            return
        try:
            await asyncio.wait_for(self._room.disconnect(), LEAVE_TIMEOUT_S)
        except Exception as e:  # the recording is closed; leaving is the SFU's business too
            logger.warning("leaving %s failed: %r", self.room_name, e, extra=self._extra)

    def _write_final(self, manifest: RecordingManifest) -> None:
        write_atomic(self._spool.manifest, manifest.to_json())
        self._spool.partial_manifest.unlink(missing_ok=True)

    async def _set_recording_flag(self, on: bool) -> str | None:
        """Merge ``"recording": on`` into the room's JSON metadata, which every client shows;
        the room's sid on the SFU (None: the room is gone, or LiveKit did not answer)."""
        if self._lkapi is None:
            self._lkapi = api.LiveKitAPI(
                self._lk.http_url, self._lk.api_key, self._lk.api_secret.get_secret_value()
            )
        try:
            listed = await asyncio.wait_for(
                self._lkapi.room.list_rooms(api.ListRoomsRequest(names=[self.room_name])),
                API_TIMEOUT_S,
            )
            if not listed.rooms:
                return None  # the room has closed, and its metadata with it
            request = api.UpdateRoomMetadataRequest(
                room=self.room_name, metadata=recording_metadata(listed.rooms[0].metadata, on)
            )
            await asyncio.wait_for(self._lkapi.room.update_room_metadata(request), API_TIMEOUT_S)
        except (api.TwirpError, aiohttp.ClientError, TimeoutError) as e:
            # Recording goes on without the flag: losing the record would be the worse failure.
            logger.error(
                "cannot set recording=%s on %s: %s", on, self.room_name, e, extra=self._extra
            )
            return None
        return listed.rooms[0].sid


def _metadata_object(metadata: str) -> dict[str, Any]:
    try:
        data = json.loads(metadata) if metadata else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def recording_flag(metadata: str) -> bool:
    """Whether room metadata says ``"recording": true``."""
    return _metadata_object(metadata).get("recording") is True


def recording_metadata(metadata: str, recording: bool) -> str:
    """Room metadata with ``"recording"`` set and every other key kept.

    Metadata that is not a JSON object (set by hand, say) is replaced: the flag must show.
    """
    data = _metadata_object(metadata)
    data["recording"] = recording
    return json.dumps(data, ensure_ascii=False)
