"""Mix every speaker's segment files into one file for playback (``mixed.opus``).

Each segment file is delayed to its start on the session clock, all are summed (they never
overlap within one speaker, and overlapping speakers are what happened), and the sum is
loudness-normalized (EBU R128) so quiet and loud connection points sound alike.
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
FFMPEG: Final = ("ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error")


@dataclass(frozen=True)
class PlacedFile:
    """One segment file and where it starts on the session clock.

    Attributes:
        start_s: seconds since the session clock's origin (``>= 0``).
        path: the audio file.
    """

    start_s: float
    path: Path


def mix_stream(files: Sequence[PlacedFile], output: Path) -> Any:
    """The ffmpeg graph that places, mixes and normalizes ``files`` into ``output`` (pure).

    Raises:
        AudioError: no file to mix.
    """
    if not files:
        raise AudioError(output, "nothing to mix: no usable segment file")
    delayed = [
        ffmpeg.input(str(f.path)).audio.filter(
            "adelay", delays=str(max(0, round(f.start_s * 1000))), all=1
        )
        for f in sorted(files, key=lambda f: (f.start_s, str(f.path)))
    ]
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
