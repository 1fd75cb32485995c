"""One speaker's audio on the session clock, encoded to Ogg/Opus segments (media.encoder)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Mapping, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import numpy as np

from media.agent_metrics import RECORDER_LAG_SECONDS, SEGMENTS
from media.clock import SessionClock
from media.encoder import RATE, OpusEncoder, Pcm, SegmentTags
from media.errors import EncoderError
from media.manifest import LOSS_REASONS, Gap, GapReason, Segment, TrackRecord
from storage.spool import AUDIO_SEGMENT_SUFFIX, segment_name, track_dir

logger = logging.getLogger(__name__)

# A crash loses the last second or so of the segment in flight (media.encoder.PAGE_S).
MAX_SEGMENT_S = 10.0
# When nothing reaches a subscribed track (not yet published audio, a publisher that stopped)
# the decoder puts out zeros with a dither of a sample value or two; speech never stays this low.
SILENCE_FLOOR = 4
# Samples found to lag the clock by more than this (lost upstream) move the next segment.
RESYNC_S = 0.05
# The last frame that arrived while blocked is still taken if the unblock comes this soon.
HELD_FRAME_MAX_AGE_S = 0.3
# Digital silence this long ends a segment. A microphone is never this silent; a track whose
# publisher sends nothing is, and a file of zeros would cost an encoder for nothing.
SILENCE_CLOSE_S = 2.0
# After a segment file could not be written (a full or failing disk), the next try comes this
# much later: a gap with reason ``storage_error`` covers the time until one succeeds.
STORAGE_RETRY_S = 1.0
# Why no audio came that was not the speaker's doing: the recorder's own connection, or the SFU
# that lost the room. Such a gap opens when the outage starts, speaking or not, and one still
# open when the recording ends is kept (ending there): it is time nothing could be recorded.
OUTAGES: frozenset[GapReason] = frozenset({"reconnecting", "sfu_restart"})


def _micros(t: float) -> float:
    """Times are kept to the microsecond, so a gap ends exactly where its segment starts."""
    return round(t, 6)


@dataclass
class _Encoding:
    """The segment in flight."""

    index: int
    relative: str
    encoder: OpusEncoder
    start_s: float
    # The least delay of any frame behind where its samples put it; above zero, samples were lost.
    lag_min_s: float = math.inf

    @property
    def samples(self) -> int:
        return self.encoder.samples

    @property
    def end_s(self) -> float:
        return self.start_s + self.encoder.samples / RATE


class InFlight(Protocol):
    """What a track writer's segment in flight tells its timeline."""

    relative: str  # the file, relative to the recording's directory

    @property
    def end_s(self) -> float:
        """Where the segment ends on the session clock, so far."""
        ...


_Seg = TypeVar("_Seg", bound=InFlight)


class TrackTimeline(Generic[_Seg]):
    """What every track writer keeps: its finished segments and gaps on the session clock, the
    gap still open, why recording is blocked, and how its files are named and reported.

    Subclasses write one kind of media: they set :attr:`SUFFIX`, keep the segment being written
    in ``_current`` and say in :meth:`_finish` how a segment is closed.

    Args:
        out_dir: the recording's directory; files go to
            :func:`storage.spool.segment_name` under it.
        identity: the participant's identity.
        track_sid: the LiveKit track the first files are named after.
        clock: the session clock every sample is timed on.
        on_segment: called with each finished segment.
        on_first_audio: called when the track's first audible sample (or frame) opens its first
            segment, so that a manifest can list the track before any segment of it is finished.
        resume: what an earlier recorder of this track wrote (after a restart); its segments are
            kept and a ``recorder_restart`` gap opens after the last one (or, when its only
            segment was lost in flight, at its first audio).
        taken: relative paths of files already on disk, never overwritten (a crashed recorder's
            segment in flight keeps its index).
        log_extra: ``extra`` for every log record (the room).
    """

    SUFFIX = ""

    def __init__(
        self,
        *,
        out_dir: Path,
        identity: str,
        track_sid: str,
        clock: SessionClock,
        on_segment: Callable[[Segment], Awaitable[None]] | None = None,
        on_first_audio: Callable[[], Awaitable[None]] | None = None,
        resume: TrackRecord | None = None,
        taken: Set[str] = frozenset(),
        log_extra: Mapping[str, object] | None = None,
    ) -> None:
        self._out_dir = out_dir
        self._identity = identity
        self.track_sid = track_sid
        self._clock = clock
        # The speaker's track set is named after its first track in recording.json.
        self.track_set = resume.track_sid if resume else track_sid
        self._on_segment = on_segment
        self._on_first_audio = on_first_audio
        self._taken = taken
        self._extra = dict(log_extra or {})
        self._segments: list[Segment] = list(resume.segments) if resume else []
        self._gaps: list[Gap] = list(resume.gaps) if resume else []
        self.first_audio_s: float | None = resume.first_audio_s if resume else None
        self._next_index = max((s.index for s in self._segments), default=-1) + 1
        self._open_gap: tuple[float, GapReason] | None = None
        if self._segments:
            self._open_gap = (self._segments[-1].end_s, "recorder_restart")
        elif self.first_audio_s is not None:
            # The earlier recorder died within the track's first segment: that audio is lost.
            self._open_gap = (self.first_audio_s, "recorder_restart")
        # Why nothing is wanted now, first reason first.
        self._blocks: dict[GapReason, None] = {}
        self._current: _Seg | None = None
        self._finishing: asyncio.Task[None] | None = None

    @property
    def segments(self) -> tuple[Segment, ...]:
        """Finished segments, in order."""
        return tuple(self._segments)

    @property
    def gaps(self) -> tuple[Gap, ...]:
        """Gaps recorded so far (each between two segments), in order."""
        return tuple(self._gaps)

    def _next_file(self) -> tuple[int, str]:
        """The next segment's index and relative path, skipping files already on disk."""
        while True:
            index = self._next_index
            self._next_index += 1
            relative = segment_name(self._identity, self.track_sid, index, self.SUFFIX)
            if relative not in self._taken:
                return index, relative

    async def _first_audio(self, start_s: float) -> None:
        """The track's first audio (or frame) is at ``start_s``, unless it came earlier."""
        if self.first_audio_s is None:
            self.first_audio_s = _micros(start_s)
            if self._on_first_audio is not None:
                await self._on_first_audio()

    async def _resume_at(self, start_s: float) -> None:
        """Media starts again at ``start_s`` (not a rotation): the first audio, or a gap's end."""
        await self._first_audio(start_s)
        if self._open_gap is not None:
            gap_start, reason = self._open_gap
            gap = Gap(gap_start, max(gap_start, _micros(start_s)), reason)
            self._gaps.append(gap)
            self._open_gap = None
            logger.info(
                "gap on %s: %s from %.3f s to %.3f s",
                self._identity, reason, gap.start_s, gap.end_s, extra=self._extra,
            )  # fmt: skip

    def unheard_until_subscribed(self, published_s: float) -> None:
        """The track was published at ``published_s`` and is subscribed now, before any of its
        audio: a ``subscribing`` gap between the two (what was said then never reached the
        recorder)."""
        if self.first_audio_s is None and not self._segments:
            gap = Gap(_micros(published_s), _micros(max(published_s, self._clock.now())),
                      "subscribing")  # fmt: skip
            self._gaps = sorted([*self._gaps, gap], key=lambda g: (g.start_s, g.end_s))

    def _lost(self, start_s: float, end_s: float, reason: GapReason) -> None:
        """Media from ``start_s`` to ``end_s`` that had been taken is lost: a gap, in order."""
        gap = Gap(_micros(start_s), _micros(end_s), reason)
        self._gaps = sorted([*self._gaps, gap], key=lambda g: (g.start_s, g.end_s))
        logger.error("gap on %s: %s from %.3f s to %.3f s", self._identity, reason, gap.start_s,
                     gap.end_s, extra=self._extra)  # fmt: skip

    def _end_open_gap(self) -> None:
        """At the end of the recording, a gap still open for a loss ends now; one that only
        says nobody was sending (muted, unsubscribed) is dropped: nothing was lost."""
        if self._open_gap is not None and self._open_gap[1] in LOSS_REASONS:
            start_s, reason = self._open_gap
            self._gaps.append(Gap(start_s, max(start_s, _micros(self._clock.now())), reason))
        self._open_gap = None

    def reclassify(self, old: GapReason, new: GapReason) -> None:
        """Say the open gap of ``old`` is really ``new`` (learnt afterwards, e.g. that a
        reconnect found the room recreated by a restarted SFU)."""
        if self._open_gap is not None and self._open_gap[1] == old:
            self._open_gap = (self._open_gap[0], new)
            logger.info("gap on %s: %s, not %s", self._identity, new, old, extra=self._extra)

    def _outage_starts(self, reason: GapReason) -> None:
        """With no segment in flight, an outage still opens its gap now (anything said from now
        on is lost); a track that never carried audio has nothing to lose yet."""
        if reason in OUTAGES and self._open_gap is None and self.first_audio_s is not None:
            self._gap_after(self._clock.now(), reason)

    def _gap_after(self, end_s: float, reason: GapReason) -> None:
        """A gap opens at ``end_s``, the end of the segment just closed."""
        self._open_gap = (_micros(end_s), reason)
        logger.info("gap on %s: %s from %.3f s", self._identity, reason, end_s, extra=self._extra)

    def _close(self, gap: GapReason | None) -> None:
        """Finish the segment in flight in the background (segments are reported in index
        order); with ``gap``, open a gap after it."""
        cur, self._current = self._current, None
        if cur is None:
            return
        if gap is not None:
            self._gap_after(cur.end_s, gap)
        self._finishing = asyncio.create_task(
            self._report(self._finish(cur), self._finishing), name=f"finish-segment:{cur.relative}"
        )

    async def _finish(self, cur: _Seg) -> Segment | None:
        """Close ``cur``'s file; the segment it holds (None: nothing, or lost)."""
        raise NotImplementedError

    async def _report(
        self, finish: Awaitable[Segment | None], previous: asyncio.Task[None] | None
    ) -> None:
        segment = await finish
        if previous is not None:
            await previous
        if segment is None:
            return
        self._segments.append(segment)
        if self._on_segment is not None:
            try:
                await self._on_segment(segment)
            except Exception:
                logger.exception("%s: on_segment failed for %s", self._identity, segment.path,
                                 extra=self._extra)  # fmt: skip


class SegmentWriter(TrackTimeline[_Encoding]):
    """Writes one speaker's track as Ogg/Opus segments of at most 10 s, with gaps between.

    Feed it every decoded frame with :meth:`write`; it starts a segment at the first audible
    sample, so a subscribed track that never carries audio leaves no file. :meth:`block` (muted,
    unsubscribed, reconnecting) closes the segment in flight and opens a gap from its last sample
    to the first audible sample after the matching :meth:`unblock`. Digital silence between
    sounds is written as it is; silence at the end of a run, or longer than
    :data:`SILENCE_CLOSE_S`, ends the segment instead, and the next sound starts a new one at its
    own time on the clock (time between segments that no gap covers was live and silent).

    Each segment is finished in the background (the encoder flushes, then the file is hashed off the
    event loop) while the next one is already being written; ``on_segment`` is awaited for every
    finished segment, in index order.

    Args:
        max_segment_s: the longest segment, at most :data:`MAX_SEGMENT_S`.
        **timeline: as for :class:`TrackTimeline` (files end in ``.opus``).
    """

    SUFFIX = AUDIO_SEGMENT_SUFFIX

    def __init__(self, *, max_segment_s: float = MAX_SEGMENT_S, **timeline: Any) -> None:
        if not 0 < max_segment_s <= MAX_SEGMENT_S:
            raise ValueError(f"max_segment_s must be in (0, {MAX_SEGMENT_S}]")
        super().__init__(**timeline)
        self._max_samples = round(max_segment_s * RATE)
        self._pending_silence = 0
        self._grace_until: float | None = None
        self._grace_timer: asyncio.TimerHandle | None = None
        self._grace_reason: GapReason | None = None
        self._held: tuple[Pcm, float] | None = None
        self._dir_made = False
        self._storage_retry: asyncio.TimerHandle | None = None

    def block(self, reason: GapReason, *, grace_s: float = 0.0) -> None:
        """Stop recording for ``reason`` until :meth:`unblock`; the time until then is a gap.

        Args:
            reason: why no audio is wanted.
            grace_s: keep writing what arrives for this long first: audio sent just before a mute
                is still in flight when the signal that overtook it arrives.
        """
        self._blocks.setdefault(reason)
        if self._current is None:
            self._outage_starts(reason)
            return
        if grace_s <= 0:
            self._close(self._grace_reason or reason)
        elif self._grace_until is None:
            self._grace_until = self._clock.now() + grace_s
            self._grace_reason = reason
            self._grace_timer = asyncio.get_running_loop().call_later(grace_s, self._close, reason)

    def unblock(self, reason: GapReason) -> None:
        """Let audio in again once nothing else blocks it (from the next audible sample on)."""
        self._blocks.pop(reason, None)
        if not self._blocks:
            # Unmuted within the grace period: the segment never closed, the mute was silence.
            self._cancel_grace()

    async def write(self, pcm: Pcm) -> None:
        """Record one decoded frame (mono 48 kHz) that arrived just now."""
        now = self._clock.now()
        if self._blocks and (self._grace_until is None or now > self._grace_until):
            if self._current is not None:
                self._close(self._grace_reason or next(iter(self._blocks)))
            # The frame with the first words after an unmute can overtake the unmute signal:
            # kept, it is recorded if the unmute follows at once (a muted track's frames are
            # silent, so only what was said after the unmute can start a segment).
            self._held = (pcm, now)
            return
        held, self._held = self._held, None
        if held is not None and now - held[1] <= HELD_FRAME_MAX_AGE_S:
            await self._take(*held)
        await self._take(pcm, now)

    async def _take(self, pcm: Pcm, now: float) -> None:
        n = len(pcm)
        audible = np.flatnonzero((pcm > SILENCE_FLOOR) | (pcm < -SILENCE_FLOOR))
        if self._current is None:
            if audible.size == 0 or self._blocks:
                return
            first = int(audible[0])
            # The frame is delivered once its last sample is due: its first sample is n earlier.
            await self._open(now - (n - first) / RATE)
            pcm, audible = pcm[first:], audible - first
        cur = self._current
        if cur is None:
            return
        cur.lag_min_s = min(
            cur.lag_min_s, now - (cur.end_s + (self._pending_silence + len(pcm)) / RATE)
        )
        if audible.size == 0:
            self._pending_silence += len(pcm)
            if self._pending_silence >= SILENCE_CLOSE_S * RATE:
                # Nothing has come for a while (a publisher that stopped sending): the segment
                # ends with the last sound; the next sound starts one where it falls on the clock.
                self._close(None)
            return
        last = int(audible[-1]) + 1
        if self._pending_silence:
            silence, self._pending_silence = self._pending_silence, 0
            await self._append(np.zeros(silence, dtype=np.int16))
        await self._append(pcm[:last])
        if self._current is not None:
            self._pending_silence = len(pcm) - last

    async def aclose(self) -> None:
        """Close the segment in flight (dropping trailing silence) and wait for every segment."""
        if self._current is not None:
            self._close(None)
        if self._storage_retry is not None:
            self._storage_retry.cancel()
        if self._finishing is not None:
            await self._finishing
        self._end_open_gap()

    async def _open(self, start_s: float, *, continued: bool = False) -> None:
        if not continued:
            # Listed before its first file exists, so that a crash leaves nothing unnamed.
            await self._first_audio(start_s)
        index, relative = self._next_file()
        try:
            if not self._dir_made:
                directory = self._out_dir / track_dir(self._identity)
                await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
                self._dir_made = True
            tags = SegmentTags(self.track_set, index, _micros(start_s))
            encoder = await OpusEncoder.start(self._out_dir / relative, tags)
        except (EncoderError, OSError) as e:
            with contextlib.suppress(OSError):  # a half-made file holds nothing
                await asyncio.to_thread((self._out_dir / relative).unlink, missing_ok=True)
            self._storage_failed(start_s, e)
            return
        if not continued:
            await self._resume_at(start_s)
        self._current = _Encoding(index, relative, encoder, start_s)

    def _storage_failed(self, start_s: float, error: Exception) -> None:
        """Nothing could be written from ``start_s`` on: a ``storage_error`` gap opens there
        (unless one is open already) and writing is tried again :data:`STORAGE_RETRY_S` later."""
        logger.error("%s: %s; recording paused", self._identity, error, extra=self._extra)
        if self._open_gap is not None and self._open_gap[1] != "storage_error":
            # Whatever kept the track quiet ended here; the disk kept it from being recorded.
            gap_start, reason = self._open_gap
            self._gaps.append(Gap(gap_start, max(gap_start, _micros(start_s)), reason))
            self._open_gap = None
        last = self._gaps[-1] if self._gaps else None
        if (
            self._open_gap is None
            and last
            and (last.end_s, last.reason) == (_micros(start_s), "storage_error")
        ):
            # A retry that wrote nothing lasting: the outage goes on, one gap.
            self._gaps.pop()
            self._open_gap = (last.start_s, "storage_error")
        if self._open_gap is None:
            self._gap_after(start_s, "storage_error")
        self._blocks.setdefault("storage_error")
        if self._storage_retry is None or self._storage_retry.cancelled():
            self._storage_retry = asyncio.get_running_loop().call_later(
                STORAGE_RETRY_S, self._retry_storage
            )

    def _retry_storage(self) -> None:
        self._storage_retry = None
        self.unblock("storage_error")

    async def _append(self, pcm: Pcm) -> None:
        """Write contiguous samples, starting a new segment every 10 s."""
        while len(pcm):
            cur = self._current
            if cur is None:
                return
            room = self._max_samples - cur.samples
            if room == 0:
                if cur.lag_min_s < math.inf:
                    RECORDER_LAG_SECONDS.observe(max(0.0, cur.lag_min_s))
                lag = cur.lag_min_s if RESYNC_S < cur.lag_min_s < math.inf else 0.0
                if lag:
                    logger.warning(
                        "%s: %.3f s of audio lost upstream; next segment moved",
                        self._identity, lag, extra=self._extra,
                    )  # fmt: skip
                self._close(None)
                await self._open(cur.end_s + lag, continued=True)
                continue
            chunk, pcm = pcm[:room], pcm[room:]
            try:
                await cur.encoder.write(chunk)
            except EncoderError as e:
                # The file in flight is given up whole; the gap starts where it did.
                self._cancel_grace()
                self._pending_silence = 0
                self._current = None
                self._finishing = asyncio.create_task(
                    self._report(self._give_up(cur), self._finishing),
                    name=f"give-up-segment:{cur.relative}",
                )
                self._storage_failed(cur.start_s, e)
                return

    def _cancel_grace(self) -> None:
        if self._grace_timer is not None:
            self._grace_timer.cancel()
        self._grace_timer = None
        self._grace_until = None
        self._grace_reason = None

    def _close(self, gap: GapReason | None) -> None:
        self._cancel_grace()
        self._pending_silence = 0
        super()._close(gap)

    async def _finish(self, cur: _Encoding) -> Segment | None:
        try:
            if cur.samples == 0:
                # Opened for a rotation that a gap overtook: a header-only file, not a segment.
                await cur.encoder.discard()
                return None
            sha256, size = await cur.encoder.finish()
        except Exception:
            logger.exception(
                "%s: finishing %s failed; segment lost", self._identity, cur.relative,
                extra=self._extra,
            )  # fmt: skip
            await self._give_up(cur)
            self._lost(cur.start_s, cur.end_s, "storage_error")
            return None
        SEGMENTS.labels("written").inc()
        return Segment(
            index=cur.index, path=cur.relative, start_s=_micros(cur.start_s),
            end_s=_micros(cur.end_s), duration_s=cur.samples / RATE, sha256=sha256, bytes=size,
        )  # fmt: skip

    async def _give_up(self, cur: _Encoding) -> None:
        """Delete a segment file that could not be written: no half-written file is kept."""
        SEGMENTS.labels("failed").inc()
        try:
            await cur.encoder.discard()
        except OSError as e:
            logger.error("%s: cannot delete %s: %s", self._identity, cur.relative, e,
                         extra=self._extra)  # fmt: skip
