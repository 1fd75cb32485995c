"""Mix every speaker's segment files into one file for playback (``mixed.opus``).

Segment files that follow each other without a gap are joined into one stream (at most
:data:`JOINED_FILES` of them), each stream is delayed to its start on the session clock, all are
summed (one speaker's files never overlap, and overlapping speakers are what happened), and the
sum is loudness-normalized (EBU R128) so quiet and loud connection points sound alike.

Joining first is what keeps the mix's cost in line with the session's length: each delayed input
is padded with silence from the session's start, so delaying every 10 s file on its own made the
work grow with the square of the length (an hour is 360 files per speaker).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import ffmpeg

from storage.files import replacing
from transcription.errors import AudioError

MIX_SAMPLE_RATE: Final = 48_000
LOUDNESS_LUFS: Final = -16.0
OPUS_BITRATE: Final = "48k"
OPUS_COMPLEXITY: Final = 5
"""libopus's encoder complexity (0-10; ffmpeg's default is 10). At 5 the mix of a 10-minute
session encoded in 3.0 s of CPU against 12.6 s at 10, 15 % larger at the same bitrate: speech at
48 kb/s stays clear, and the encoder was the costliest part of the mix (benchmarks/README.md)."""
FFMPEG: Final = ("ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error")
JOINED_FILES: Final = 30
"""Touching files joined into one stream at most (5 minutes of 10 s files), so that the small
slack of the recorder's timestamps never adds up to more than a few frames."""
TOUCHING_S: Final = 0.02
"""Files whose end and next start differ by at most this (an Opus frame) are joined."""


@dataclass(frozen=True)
class PlacedFile:
    """One segment file and where it starts on the session clock.

    Attributes:
        start_s: seconds since the session clock's origin (``>= 0``).
        path: the audio file.
    """

    start_s: float
    path: Path
    duration_s: float | None = None  # known: touching files are joined before the mix


def joined_streams(files: Sequence[PlacedFile]) -> list[list[PlacedFile]]:
    """``files`` grouped into streams of touching files (each file starting where the one
    before it ends), at most :data:`JOINED_FILES` each, ordered by start (pure). A file of
    unknown duration ends its stream."""
    streams: list[list[PlacedFile]] = []
    open_ends: dict[int, float] = {}  # stream index -> where its last file ends
    for f in sorted(files, key=lambda f: (f.start_s, str(f.path))):
        at = next((i for i, end in open_ends.items() if abs(f.start_s - end) <= TOUCHING_S), None)
        if at is None:
            at = len(streams)
            streams.append([])
        streams[at].append(f)
        open_ends.pop(at, None)
        if f.duration_s is not None and len(streams[at]) < JOINED_FILES:
            open_ends[at] = f.start_s + f.duration_s
    return streams


def mix_stream(files: Sequence[PlacedFile], output: Path) -> Any:
    """The ffmpeg graph that places, mixes and normalizes ``files`` into ``output`` (pure).

    Raises:
        AudioError: no file to mix.
    """
    if not files:
        raise AudioError(output, "nothing to mix: no usable segment file")
    delayed = []
    for stream in joined_streams(files):
        inputs = [ffmpeg.input(str(f.path)).audio for f in stream]
        joined = inputs[0] if len(inputs) == 1 else ffmpeg.concat(*inputs, v=0, a=1)
        delay = str(max(0, round(stream[0].start_s * 1000)))
        delayed.append(joined.filter("adelay", delays=delay, all=1))
    # normalize=0: amix would otherwise divide every input by the number of inputs, and most
    # inputs are silent at any moment (one speaker's files never overlap each other).
    mixed = (
        delayed[0]
        if len(delayed) == 1
        else ffmpeg.filter(delayed, "amix", inputs=len(delayed), normalize=0, duration="longest")
    )
    # loudnorm works at 192 kHz internally; resample back for Opus.
    normalized = mixed.filter("loudnorm", I=LOUDNESS_LUFS, TP=-1.5, LRA=11).filter(
        "aresample", MIX_SAMPLE_RATE
    )
    return ffmpeg.output(
        normalized,
        str(output),
        acodec="libopus",
        audio_bitrate=OPUS_BITRATE,
        compression_level=OPUS_COMPLEXITY,
        ac=1,
        ar=MIX_SAMPLE_RATE,
        f="ogg",
    )


def mix_command(files: Sequence[PlacedFile], output: Path) -> list[str]:
    """The ffmpeg command line for :func:`mix_stream` (pure; what the unit tests read)."""
    args: list[str] = mix_stream(files, output).compile(cmd=list(FFMPEG), overwrite_output=True)
    return args


def mix_files(files: Sequence[PlacedFile], output: Path) -> None:
    """Write the mix to ``output`` atomically (a partial file never carries the final name).

    Raises:
        AudioError: nothing to mix, or ffmpeg failed (its message is kept).
    """
    with replacing(output) as partial:
        try:
            mix_stream(files, partial).run(
                cmd=list(FFMPEG), overwrite_output=True, capture_stdout=True, capture_stderr=True
            )
        except ffmpeg.Error as e:
            detail = (e.stderr or b"").decode(errors="replace").strip()[-500:]
            raise AudioError(output, f"ffmpeg could not mix: {detail}") from e
