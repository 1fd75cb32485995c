"""Camera tracks on the session clock as H.264 segments (only with ``media.video`` on).

Each camera is written at most 640×360 and 15 fps into MP4 segments of at most 10 s: frames that
come sooner than a fifteenth of a second after the last one kept are dropped, larger pictures are
scaled down with their aspect kept, and libx264 encodes in process (PyAV) in a worker thread, so
the event loop that carries every speaker's audio never waits on it. A frame is placed on the
clock when it arrives. Gaps (muted, unsubscribed, reconnecting, recorder_restart) mean what they
mean for audio (:mod:`media.segment_writer`); a segment in flight is lost in a crash.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from livekit import rtc

from media.errors import EncoderError
from media.manifest import GapReason, Segment
from media.segment_writer import MAX_SEGMENT_S, TrackTimeline
from storage.files import hash_file
from storage.spool import VIDEO_SEGMENT_SUFFIX

logger = logging.getLogger(__name__)

MAX_WIDTH, MAX_HEIGHT, MAX_FPS = 640, 360, 15
# A frame is kept once this long has passed since the last one kept: a 15 fps camera's frames,
# jittered by the network, all pass; a 30 fps camera's every other one.
MIN_FRAME_GAP_S = 0.85 / MAX_FPS
TIME_BASE = Fraction(1, 90000)
X264_OPTIONS = {"preset": "veryfast", "crf": "28", "g": str(2 * MAX_FPS)}


def fitted_size(width: int, height: int) -> tuple[int, int]:
    """The recorded size of a ``width``×``height`` picture: within 640×360, aspect kept, even
    sides (H.264 with 4:2:0 chroma needs them), never enlarged."""
    scale = min(1.0, MAX_WIDTH / width, MAX_HEIGHT / height)
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def to_av_frame(frame: rtc.VideoFrame) -> av.VideoFrame:
    """An I420 LiveKit frame as a PyAV frame (an odd last row or column is cut off)."""
    width, height = frame.width, frame.height
    w, h = width & ~1, height & ~1
    cw, ch = (width + 1) // 2, (height + 1) // 2
    luma, chroma = width * height, cw * ch
    data = np.frombuffer(frame.data, dtype=np.uint8)
    y = data[:luma].reshape(height, width)[:h, :w]
    u = data[luma : luma + chroma].reshape(ch, cw)[: h // 2, : w // 2]
    v = data[luma + chroma : luma + 2 * chroma].reshape(ch, cw)[: h // 2, : w // 2]
    packed = np.concatenate([y.ravel(), u.ravel(), v.ravel()]).reshape(h * 3 // 2, w)
    return av.VideoFrame.from_ndarray(packed, format="yuv420p")


class H264Encoder:
    """One MP4 file of H.264 at a fixed size; every method blocks (run it in a thread)."""

    def __init__(self, path: Path, width: int, height: int) -> None:
        self.path, self.size = path, (width, height)
        self.frames = 0
        self._container: Any = av.open(str(path), "w", format="mp4")
        try:
            stream = self._container.add_stream("libx264", rate=MAX_FPS)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.time_base = TIME_BASE
            stream.codec_context.time_base = TIME_BASE
            stream.codec_context.options = X264_OPTIONS
        except Exception:
            self._container.close()
            raise
        self._stream = stream

    def encode(self, frame: av.VideoFrame, at_s: float) -> None:
        """Encode ``frame`` (scaled to the file's size) shown ``at_s`` into the file."""
        width, height = self.size
        if (frame.width, frame.height) != (width, height):
            frame = frame.reformat(width=width, height=height)
        frame.pts = round(at_s / TIME_BASE)
        frame.time_base = TIME_BASE
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def finish(self) -> tuple[str, int]:
        """Flush, close, and return the file's SHA-256 and size."""
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        finally:
            self._container.close()
        return hash_file(self.path, sync=True)

    def discard(self) -> None:
        """Close and delete the file."""
        try:
            self._container.close()
        except (av.FFmpegError, OSError, ValueError):
            pass  # the file is being given up anyway
        self.path.unlink(missing_ok=True)


@dataclass
class _Encoding:
    index: int
    relative: str
    encoder: H264Encoder
    start_s: float
    last_s: float  # when the last frame kept arrived

    @property
    def end_s(self) -> float:
        # The last frame is shown for a frame's time.
        return self.last_s + 1 / MAX_FPS


class VideoSegmentWriter(TrackTimeline[_Encoding]):
    """Writes one participant's camera as H.264 segments of at most 10 s, with gaps between.

    The same interface as :class:`media.segment_writer.SegmentWriter`, fed
    :class:`livekit.rtc.VideoFrame` s in I420; files end in ``.mp4``. ``first_audio_s`` (the
    manifest's field, shared with audio tracks) is the first frame's time.

    Args:
        max_segment_s: the longest segment, at most 10 s.
        **timeline: as for :class:`media.segment_writer.TrackTimeline`.
    """

    SUFFIX = VIDEO_SEGMENT_SUFFIX

    def __init__(self, *, max_segment_s: float = MAX_SEGMENT_S, **timeline: Any) -> None:
        super().__init__(**timeline)
        self._max_s = min(max_segment_s, MAX_SEGMENT_S)
        # The camera's size as published: simulcast layers of other sizes that arrive while the
        # subscription ramps up are scaled to it rather than starting segments of their own.
        self.source_size: tuple[int, int] | None = None

    def block(self, reason: GapReason, *, grace_s: float = 0.0) -> None:
        """No frames for ``reason`` until :meth:`unblock` (a picture needs no grace period)."""
        del grace_s
        self._blocks.setdefault(reason)
        if self._current is None:
            self._outage_starts(reason)
        self._close(reason)

    def unblock(self, reason: GapReason) -> None:
        """Take frames again once nothing else blocks them."""
        self._blocks.pop(reason, None)

    async def write(self, frame: rtc.VideoFrame) -> None:
        """Record one I420 frame that arrived just now (dropped while blocked or too soon)."""
        now = self._clock.now()
        cur = self._current
        if self._blocks or (cur is not None and now - cur.last_s < MIN_FRAME_GAP_S):
            return
        size = fitted_size(*(self.source_size or (frame.width, frame.height)))
        # A segment ends before a frame would be shown past its 10 s.
        too_long = cur is not None and now + 1 / MAX_FPS - cur.start_s > self._max_s
        if cur is not None and (too_long or cur.encoder.size != size):
            self._close(None)
            cur = await self._open(cur.end_s, size, continued=True)
        elif cur is None:
            cur = await self._open(now, size)
        if cur is None:
            return
        picture = to_av_frame(frame)
        try:
            await asyncio.to_thread(cur.encoder.encode, picture, max(0.0, now - cur.start_s))
        except (av.FFmpegError, OSError, ValueError) as e:
            logger.error("%s: video encoding failed: %s; segment lost", self._identity, e,
                         extra=self._extra)  # fmt: skip
            self._current = None
            await asyncio.to_thread(cur.encoder.discard)
            return
        cur.last_s = now

    async def aclose(self) -> None:
        """Close the segment in flight and wait for every segment."""
        self._close(None)
        if self._finishing is not None:
            await self._finishing
        self._end_open_gap()

    async def _open(
        self, start_s: float, size: tuple[int, int], *, continued: bool = False
    ) -> _Encoding | None:
        index, relative = self._next_file()
        if not continued:
            await self._resume_at(start_s)
        path = self._out_dir / relative
        try:
            await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
            encoder = await asyncio.to_thread(H264Encoder, path, *size)
        except (av.FFmpegError, OSError, ValueError) as e:
            logger.error("%s: %s", self._identity, EncoderError(f"cannot open {relative}: {e}"),
                         extra=self._extra)  # fmt: skip
            return None
        # A continued segment starts where the last ended; a frame is never placed before it.
        self._current = _Encoding(index, relative, encoder, start_s, start_s - 1 / MAX_FPS)
        return self._current

    async def _finish(self, cur: _Encoding) -> Segment | None:
        try:
            if cur.encoder.frames == 0:
                await asyncio.to_thread(cur.encoder.discard)
                return None
            sha256, size = await asyncio.to_thread(cur.encoder.finish)
        except Exception:
            logger.exception("%s: finishing %s failed; segment lost", self._identity,
                             cur.relative, extra=self._extra)  # fmt: skip
            return None
        return Segment(
            index=cur.index, path=cur.relative, start_s=round(cur.start_s, 6),
            end_s=round(cur.end_s, 6), duration_s=round(cur.end_s - cur.start_s, 6),
            sha256=sha256, bytes=size,
        )  # fmt: skip
