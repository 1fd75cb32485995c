"""The speakers of one room: one track set per participant and source, across reconnects.

Audio is always recorded; cameras only when the recorder was asked to (:mod:`media.video_segments`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from livekit import rtc

from media.clock import SessionClock
from media.encoder import RATE
from media.manifest import GapReason, Segment, TrackRecord, participant_labels
from media.segment_writer import SegmentWriter
from media.video_segments import VideoSegmentWriter

logger = logging.getLogger(__name__)

# Frames of 100 ms: a tenth of the per-frame cost of WebRTC's 10 ms (the FFI, the event loop and
# the encoder each wake once per frame; measured 0.020 -> 0.007 CPU-s per track-second in the
# recorder process). Timing does not suffer: a segment starts at its first audible sample, placed
# by its position in the frame.
FRAME_MS = 100
# Audio sent just before a mute arrives after the mute signal that overtook it (a jitter buffer
# and a frame later).
MUTE_GRACE_S = 0.25
STOP_TIMEOUT_S = 15.0

_SOURCES = {
    rtc.TrackSource.SOURCE_MICROPHONE: "microphone",
    rtc.TrackSource.SOURCE_SCREENSHARE_AUDIO: "screen_share_audio",
    rtc.TrackSource.SOURCE_CAMERA: "camera",
}


@dataclass
class _TrackSet:
    """One speaker's track source; each reconnect brings a new track sid and stream."""

    identity: str
    source: str
    first_sid: str
    labels: tuple[str, str, str]  # display name, role, connection point
    writer: SegmentWriter | VideoSegmentWriter
    stream: rtc.AudioStream | rtc.VideoStream | None = None
    # Set when the stream is closed: a VideoStream's iteration never ends by itself (livekit 1.2).
    closed: asyncio.Event | None = None
    consumer: asyncio.Task[None] | None = None

    def record(self) -> TrackRecord:
        name, role, point = self.labels
        w = self.writer
        return TrackRecord(
            track_sid=self.first_sid, participant_identity=self.identity, display_name=name,
            role=role, connection_point=point, segments=w.segments, gaps=w.gaps,
            first_audio_s=w.first_audio_s, source=self.source,
        )  # fmt: skip


class SpeakerTracks:
    """Every audio track of a room (and camera, when the recorder subscribes to cameras), each
    written by its :class:`SegmentWriter` (:class:`VideoSegmentWriter`).

    A participant who leaves and comes back (a new track sid) continues the same set, after an
    ``unsubscribed`` gap. The room's events are passed in by :class:`media.recorder.RoomRecorder`.

    Args:
        out_dir: the recording's directory.
        clock: the session clock.
        segment_s: the longest segment.
        on_change: awaited whenever a track's record changes (a finished segment, first audio).
        taken: files already on disk, never overwritten.
        log_extra: ``extra`` of every log record (the room).
    """

    def __init__(
        self,
        *,
        out_dir: Path,
        clock: SessionClock,
        segment_s: float,
        on_change: Callable[[], Awaitable[None]],
        taken: set[str],
        log_extra: Mapping[str, Any],
    ) -> None:
        self._out_dir, self._clock, self._segment_s = out_dir, clock, segment_s
        self._on_change, self._taken, self._extra = on_change, taken, dict(log_extra)
        self._sets: dict[tuple[str, str], _TrackSet] = {}
        self._by_sid: dict[str, _TrackSet] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # When the recorder, in the room, saw each track it has not yet subscribed published.
        self._published_s: dict[str, float] = {}

    @property
    def active_sids(self) -> frozenset[str]:
        """The tracks being recorded now."""
        return frozenset(self._by_sid)

    @property
    def known(self) -> bool:
        """Whether any track set is kept (recorded, or resumed from an earlier recorder)."""
        return bool(self._sets)

    def records(self) -> tuple[TrackRecord, ...]:
        """Every audio track set as it stands, in the order they appeared."""
        return tuple(s.record() for s in self._sets.values() if s.source != "camera")

    def video_records(self) -> tuple[TrackRecord, ...]:
        """Every camera track set as it stands, in the order they appeared."""
        return tuple(s.record() for s in self._sets.values() if s.source == "camera")

    def resume(self, tracks: Iterable[TrackRecord]) -> None:
        """Continue the track sets of an earlier recorder (each opens a restart gap)."""
        for t in tracks:
            self._sets[(t.participant_identity, t.source)] = _TrackSet(
                t.participant_identity, t.source, t.track_sid,
                (t.display_name, t.role, t.connection_point),
                self._writer(t.participant_identity, t.track_sid, t.source == "camera", t),
            )  # fmt: skip

    def published(
        self, publication: rtc.RemoteTrackPublication, since: datetime | None = None
    ) -> None:
        """A track was published (its subscription follows): now, while the recorder is in the
        room; or, found there when the recorder came, at some time after ``since``, when its
        publisher joined (what they said from then on may be lost: the gap starts there)."""
        now = self._clock.now()
        at = now if since is None else min(now, max(0.0, self._clock.at(since)))
        self._published_s.setdefault(publication.sid, at)

    def subscribed(
        self,
        track: rtc.Track,
        publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        """Start recording a track the recorder has just subscribed to."""
        sid, identity = publication.sid, participant.identity
        video = track.kind == rtc.TrackKind.KIND_VIDEO
        source = "camera" if video else _SOURCES.get(publication.source, "audio")
        key = (identity, source)
        tset = self._sets.get(key)
        if tset is not None and tset.consumer is not None:
            # A second live track of the same source gets a set of its own, not interleaved.
            key = (identity, f"{source}:{sid}")
            tset = self._sets.get(key)
        labels = participant_labels(identity, participant.name, participant.attributes)
        published_s = self._published_s.pop(sid, None)
        if tset is None:
            tset = self._sets[key] = _TrackSet(
                identity, key[1], sid, labels, self._writer(identity, sid, video)
            )
            if published_s is not None and not publication.muted:
                tset.writer.unheard_until_subscribed(published_s)
        else:
            tset.labels = labels
            tset.writer.track_sid = sid
            tset.writer.unblock("unsubscribed")
        self._by_sid[sid] = tset
        if publication.muted:
            tset.writer.block("muted")
        if isinstance(tset.writer, VideoSegmentWriter):
            if publication.width and publication.height:
                tset.writer.source_size = (publication.width, publication.height)
            tset.stream = rtc.VideoStream(track, format=rtc.VideoBufferType.I420)
            tset.closed = asyncio.Event()
        else:
            tset.stream = rtc.AudioStream(
                track, sample_rate=RATE, num_channels=1, frame_size_ms=FRAME_MS
            )
        tset.consumer = self._spawn(self._consume(tset, tset.stream), f"record:{sid}")
        logger.info(
            "track added: %s %s (%s, %s)", identity, sid, labels[1], source, extra=self._extra
        )

    def unsubscribed(self, publication: rtc.TrackPublication, participant: rtc.Participant) -> None:
        """Stop recording a track that went away; a gap opens until it comes back."""
        tset = self._by_sid.pop(publication.sid, None)
        if tset is None:
            return
        tset.writer.block("unsubscribed")
        self._spawn(self._stop_stream(tset), f"unsubscribe:{publication.sid}")
        logger.info("track lost: %s %s", participant.identity, publication.sid, extra=self._extra)

    def muted(self, publication: rtc.TrackPublication) -> None:
        """A track was muted: a gap, once the audio already on its way is in."""
        if tset := self._by_sid.get(publication.sid):
            tset.writer.block("muted", grace_s=MUTE_GRACE_S)

    def unmuted(self, publication: rtc.TrackPublication) -> None:
        """A track was unmuted: recording resumes with its next audible sample."""
        if tset := self._by_sid.get(publication.sid):
            tset.writer.unblock("muted")

    def relabel(self, participant: rtc.Participant) -> None:
        """Take a participant's new name or attributes."""
        labels = participant_labels(participant.identity, participant.name, participant.attributes)
        for tset in self._sets.values():
            if tset.identity == participant.identity:
                tset.labels = labels

    def block_all(self, reason: GapReason) -> None:
        """No audio from anyone for ``reason`` (the recorder's own connection is down)."""
        for tset in self._sets.values():
            tset.writer.block(reason)

    def reclassify_all(self, old: GapReason, new: GapReason) -> None:
        """Every open gap of ``old`` is really ``new`` (e.g. the outage was an SFU restart)."""
        for tset in self._sets.values():
            tset.writer.reclassify(old, new)

    def unblock_all(self, reason: GapReason) -> None:
        """Lift :meth:`block_all`."""
        for tset in self._sets.values():
            tset.writer.unblock(reason)

    async def aclose(self) -> None:
        """Stop every stream and close every segment, each step time-limited."""
        sets = list(self._sets.values())
        self._by_sid.clear()
        results = await asyncio.gather(
            *(self._stop_stream(s) for s in sets), return_exceptions=True
        )
        results += await asyncio.gather(
            *(asyncio.wait_for(s.writer.aclose(), STOP_TIMEOUT_S) for s in sets),
            return_exceptions=True,
        )
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=STOP_TIMEOUT_S)
        for result in results:
            if isinstance(result, BaseException):
                logger.error("closing a track failed: %r", result, extra=self._extra)

    def _writer(
        self, identity: str, sid: str, video: bool, resume: TrackRecord | None = None
    ) -> SegmentWriter | VideoSegmentWriter:
        return (VideoSegmentWriter if video else SegmentWriter)(
            out_dir=self._out_dir, identity=identity, track_sid=sid, clock=self._clock,
            on_segment=self._segment_done, on_first_audio=self._on_change, resume=resume,
            taken=self._taken, max_segment_s=self._segment_s, log_extra=self._extra,
        )  # fmt: skip

    async def _segment_done(self, _segment: Segment) -> None:
        await self._on_change()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _consume(self, tset: _TrackSet, stream: rtc.AudioStream | rtc.VideoStream) -> None:
        writer = tset.writer
        try:
            if isinstance(stream, rtc.VideoStream):
                assert isinstance(writer, VideoSegmentWriter) and tset.closed is not None
                async for frame in _frames(stream, tset.closed):
                    await writer.write(frame)
                return
            assert isinstance(writer, SegmentWriter)
            async for event in stream:
                await writer.write(np.frombuffer(event.frame.data, dtype=np.int16))
        except Exception:
            logger.exception("recording %s failed", tset.identity, extra=self._extra)

    async def _stop_stream(self, tset: _TrackSet) -> None:
        stream, consumer = tset.stream, tset.consumer
        tset.stream = tset.consumer = None
        if tset.closed is not None:
            tset.closed.set()
        if stream is not None:
            await asyncio.wait_for(stream.aclose(), STOP_TIMEOUT_S)
        if consumer is not None:
            await asyncio.wait_for(consumer, STOP_TIMEOUT_S)


async def _frames(stream: rtc.VideoStream, closed: asyncio.Event) -> AsyncIterator[rtc.VideoFrame]:
    """The stream's frames until it ends or ``closed`` is set; only the wait for the next frame
    is ever cancelled, never the writing of one."""
    closing = asyncio.ensure_future(closed.wait())
    try:
        while True:
            following = asyncio.ensure_future(anext(stream))
            await asyncio.wait({following, closing}, return_when=asyncio.FIRST_COMPLETED)
            if not following.done():
                following.cancel()
                return
            try:
                event = following.result()
            except StopAsyncIteration:
                return
            yield event.frame
    finally:
        closing.cancel()
