"""One Ogg/Opus file, encoded in process by ffmpeg's libraries (libopus, the Ogg muxer) via PyAV.

An ffmpeg process per segment cost 0.0156 CPU-s per track-second, most of it starting ffmpeg every
10 s; the same libraries in process cost 0.0026 (measured on 10 s segments of a tone). Encoding a
100 ms frame takes about 0.3 ms and runs on the event loop; opening and closing a file (disk work)
run in a thread.

A segment in flight is readable at any moment: the Ogg muxer ends a page every
:data:`PAGE_S` and every page is flushed to the file at once (``flush_packets``), so a process
killed mid-segment leaves a file holding all but its last second or so. The file's own Opus
comment header says where it belongs (:class:`SegmentTags`), so a later recorder can list what
such a file holds without any other record of it (:mod:`media.salvage`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from media.errors import EncoderError
from storage.files import hash_file

RATE = 48000
BIT_RATE = 32000
# Seconds of audio per Ogg page: what a killed recorder loses of the segment in flight is the
# page being filled and the encoder's look-ahead, about twice this (measured 1.0 s at 0.5).
PAGE_S = 0.5

Pcm = npt.NDArray[np.int16]

# Opus comment-header fields naming a segment's place on the session clock.
TAG_TRACK_SET = "TIEPDAN_TRACK_SET"
TAG_INDEX = "TIEPDAN_INDEX"
TAG_START_S = "TIEPDAN_START_S"


@dataclass(frozen=True)
class SegmentTags:
    """What a segment file says about itself: its track set (the first track id of the
    speaker's set, as ``recording.json`` lists it), its index and its start on the clock."""

    track_set: str
    index: int
    start_s: float

    def to_metadata(self) -> dict[str, str]:
        """The Opus comment fields."""
        return {
            TAG_TRACK_SET: self.track_set,
            TAG_INDEX: str(self.index),
            TAG_START_S: f"{self.start_s:.6f}",
        }

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> SegmentTags | None:
        """The tags in a file's comment fields (None: not a segment this recorder wrote)."""
        upper = {k.upper(): v for k, v in metadata.items()}
        try:
            return cls(upper[TAG_TRACK_SET], int(upper[TAG_INDEX]), float(upper[TAG_START_S]))
        except (KeyError, ValueError):
            return None


def _open(path: Path, tags: SegmentTags) -> tuple[Any, Any]:
    """An Ogg container at ``path`` (replaced if it exists) with one Opus voice stream."""
    container = av.open(
        str(path), "w", format="ogg",
        options={"flush_packets": "1", "page_duration": str(round(PAGE_S * 1_000_000))},
    )  # fmt: skip
    try:
        stream = container.add_stream("libopus", rate=RATE)
        stream.bit_rate = BIT_RATE
        stream.layout = "mono"
        stream.codec_context.options = {"application": "voip"}
        stream.metadata.update(tags.to_metadata())
    except Exception:
        container.close()
        raise
    return container, stream


class OpusEncoder:
    """Encodes everything written to it into the Ogg/Opus file ``path`` (48 kHz mono, 32 kbit/s).

    Pages reach the file every :data:`PAGE_S`, so even a file whose writer died holds all but
    its last second; a segment is listed in a manifest once :meth:`finish` has closed it, or
    by the next recorder when its writer died (:mod:`media.salvage`).
    """

    def __init__(self, path: Path, container: Any, stream: Any) -> None:
        self.path = path
        self.samples = 0
        self._container = container
        self._stream = stream
        self._failed = False

    @classmethod
    async def start(cls, path: Path, tags: SegmentTags) -> OpusEncoder:
        """Open ``path`` for writing (replaced if it exists), its comment header holding ``tags``.

        Raises:
            EncoderError: the file cannot be created or the encoder cannot be set up.
        """
        try:
            container, stream = await asyncio.to_thread(_open, path, tags)
        except (av.FFmpegError, OSError) as e:
            raise EncoderError(f"cannot open an encoder for {path.name}: {e}") from e
        return cls(path, container, stream)

    async def write(self, pcm: Pcm) -> None:
        """Encode ``pcm`` (any number of samples; the encoder cuts its own 20 ms frames).

        Raises:
            EncoderError: encoding or writing failed; the file is lost.
        """
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self.samples
        frame.time_base = Fraction(1, RATE)
        self.samples += len(pcm)
        try:
            self._mux(self._stream.encode(frame))
        except (av.FFmpegError, OSError, ValueError) as e:
            self._failed = True
            raise EncoderError(f"encoding {self.path.name} failed: {e}") from e

    async def finish(self) -> tuple[str, int]:
        """Flush the encoder, close the file, and return its SHA-256 and size.

        Raises:
            EncoderError: an earlier write failed, or flushing or closing failed.
        """
        if self._failed:
            await asyncio.to_thread(self._close_quietly)
            raise EncoderError(f"encoder of {self.path.name} failed earlier")
        try:
            await asyncio.to_thread(self._flush_and_close)
        except (av.FFmpegError, OSError, ValueError) as e:
            raise EncoderError(f"closing {self.path.name} failed: {e}") from e
        return await asyncio.to_thread(hash_file, self.path, sync=True)

    async def discard(self) -> None:
        """Close and delete the file (it holds no audio)."""
        await asyncio.to_thread(self._close_quietly)
        await asyncio.to_thread(self.path.unlink, missing_ok=True)

    def _mux(self, packets: Any) -> None:
        for packet in packets:
            self._container.mux(packet)

    def _flush_and_close(self) -> None:
        try:
            self._mux(self._stream.encode(None))
        finally:
            self._container.close()

    def _close_quietly(self) -> None:
        try:
            self._container.close()
        except (av.FFmpegError, OSError, ValueError):
            pass  # the file is being given up anyway
