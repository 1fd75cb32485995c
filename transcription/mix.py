"""Mix every speaker's segment files into one file for playback (``mixed.opus``).

The files are laid into streams in which no two files overlap: in practice one per speaker, whose
files never overlap. ffmpeg reads each stream's files one after another through a concat script
that gives each file the time until the next one starts, and ``aresample`` puts every sample where
its timestamp says (silence in the gaps; were a file to run past the next one's start, the next
one's first samples would give way), so every file keeps its place on the session clock however
long the stream runs. Each stream is delayed to its first file's start, all are summed
(overlapping speakers are what happened), and the sum is loudness-normalized (EBU R128) so quiet
and loud connection points sound alike.

A stream per speaker is what keeps the mix's cost in line with the session's length: each
delayed stream is padded with silence from the session's start, so a stream per file (or per run
of touching files) made the work grow with the square of the length (an hour is 360 files per
speaker). The same graph with every file an input of its own cost 4× the CPU and 748 MiB for an
hour. A gap inside a stream is filled at once, in memory (about 0.45 MB per second of gap), so a
longer gap (a speaker who left and came back, a late joiner) starts a stream of its own.

Every segment is Ogg/Opus, as the recorder writes it (the concat demuxer reads one codec per
stream). A file ffmpeg cannot open fails the whole mix, loudly: the concat demuxer would go on
without it and the rest of that speaker's audio would be missing from the record.
"""

from __future__ import annotations

import subprocess
import tempfile
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
CLOCK_SLACK_S: Final = 0.005
"""How far a stream's audio may stray from where its timestamps put it before the mix pads it
with silence or cuts it (aresample's ``min_hard_comp``): a quarter of an Opus frame."""
TOUCHING_S: Final = 0.02
"""A file may start this much (an Opus frame) before the one before it in its stream ends."""
STREAM_GAP_S: Final = 30.0
"""The longest silence filled inside a stream (about 14 MB of ffmpeg's memory); after a longer
gap a file starts a stream of its own, delayed from the session's start."""
UNREADABLE: Final = "Impossible to open"
"""What ffmpeg's concat demuxer logs, as an error, for a file it skips because it cannot open it."""


@dataclass(frozen=True)
class PlacedFile:
    """One segment file and where it starts on the session clock.

    Attributes:
        start_s: seconds since the session clock's origin (``>= 0``).
        path: the audio file.
        duration_s: its length, when known; a file of unknown length ends its stream.
    """

    start_s: float
    path: Path
    duration_s: float | None = None


def streams_of(files: Sequence[PlacedFile]) -> list[list[PlacedFile]]:
    """``files`` laid into streams in which no two files overlap by more than
    :data:`TOUCHING_S` and none follows a gap longer than :data:`STREAM_GAP_S`, ordered by start
    (pure). A file follows the stream that ended last at or before its start (in practice the
    speaker's own); failing that, the one that ended first within :data:`TOUCHING_S` after it;
    failing that, it starts a stream. A file of unknown duration ends its stream."""
    streams: list[list[PlacedFile]] = []
    open_ends: dict[int, float] = {}  # stream index -> where its last file ends
    for f in sorted(files, key=lambda f: (f.start_s, str(f.path))):
        near = {i: end for i, end in open_ends.items() if f.start_s - end <= STREAM_GAP_S}
        ended = [i for i, end in near.items() if end <= f.start_s]
        ending = [i for i, end in near.items() if end <= f.start_s + TOUCHING_S]
        if ended:
            at = max(ended, key=lambda i: near[i])
        elif ending:
            at = min(ending, key=lambda i: near[i])
        else:
            at = len(streams)
            streams.append([])
        streams[at].append(f)
        open_ends.pop(at, None)
        if f.duration_s is not None:
            open_ends[at] = f.start_s + f.duration_s
    return streams


def concat_script(stream: Sequence[PlacedFile]) -> str:
    """ffmpeg's concat script for one stream (pure): each file but the last lasts until the next
    one starts, counted in microseconds from the stream's start so that rounding never adds up."""
    origin = stream[0].start_s

    def at(f: PlacedFile) -> int:
        return round((f.start_s - origin) * 1_000_000)

    lines = ["ffconcat version 1.0"]
    for f, after in zip(stream, [*stream[1:], None], strict=True):
        lines.append("file '" + str(f.path.absolute()).replace("'", "'\\''") + "'")
        if after is not None:
            seconds, micro = divmod(at(after) - at(f), 1_000_000)
            lines.append(f"duration {seconds}.{micro:06d}")
    return "\n".join(lines) + "\n"


def mix_graph(streams: Sequence[tuple[float, Path]], output: Path) -> Any:
    """The ffmpeg graph that places, mixes and normalizes ``streams`` (each its start on the
    session clock and its :func:`concat_script`'s path) into ``output`` (pure).

    Raises:
        AudioError: no stream to mix.
    """
    if not streams:
        raise AudioError(output, "nothing to mix: no usable segment file")
    delayed = [
        ffmpeg.input(str(script), f="concat", safe=0)
        .audio
        # Every sample where its timestamp says: silence in the gaps, what comes early dropped.
        .filter("aresample", MIX_SAMPLE_RATE, **{"async": 1, "min_hard_comp": CLOCK_SLACK_S})
        .filter("adelay", delays=str(max(0, round(start_s * 1000))), all=1)
        for start_s, script in streams
    ]
    # normalize=0: amix would otherwise divide every input by the number of inputs, and most
    # inputs are silent at any moment (a speaker is silent while others speak).
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


def mix_command(streams: Sequence[tuple[float, Path]], output: Path) -> list[str]:
    """The ffmpeg command line for :func:`mix_graph` (pure; what the unit tests read)."""
    args: list[str] = mix_graph(streams, output).compile(cmd=list(FFMPEG), overwrite_output=True)
    return args


def mix_files(files: Sequence[PlacedFile], output: Path) -> None:
    """Write the mix to ``output`` atomically (a partial file never carries the final name).

    ffmpeg reads each stream's files one after another through its concat script (written to a
    scratch folder outside the spool), so its command line and open files stay as few as the
    streams, whatever the session's length.

    Raises:
        AudioError: nothing to mix, or ffmpeg failed (its message is kept).
    """
    with (
        tempfile.TemporaryDirectory(prefix="tiepdan-mix-") as scratch,
        replacing(output) as partial,
    ):
        streams = []
        for i, stream in enumerate(streams_of(files)):
            script = Path(scratch) / f"stream{i}.ffconcat"
            script.write_text(concat_script(stream), encoding="utf-8")
            streams.append((stream[0].start_s, script))
        done = subprocess.run(mix_command(streams, partial), capture_output=True, check=False)
        log = done.stderr.decode(errors="replace")
        if done.returncode != 0 or UNREADABLE in log:
            raise AudioError(output, f"ffmpeg could not mix: {log.strip()[-500:]}")
