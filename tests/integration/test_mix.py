"""mixed.opus through real ffmpeg: every segment file lands at its place on the session clock."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.audio import opus_slice, sine
from transcription.engine import SAMPLE_RATE, decode
from transcription.mix import PlacedFile, mix_files

RATE = 48_000
SLOT_S = 2.0
LONGER_S = 0.03
"""How much longer than its slot each segment file really is: the recorder's files carry some
slack, and a mix that joined them end to end would drift by this much per file."""


def segment(folder: Path, name: str, burst_at_s: float, freq_hz: float) -> Path:
    """A segment file, ``SLOT_S + LONGER_S`` long: silence with a 50 ms tone at ``burst_at_s``."""
    samples = np.zeros(int((SLOT_S + LONGER_S) * RATE), dtype=np.int16)
    burst = sine(freq_hz, 0.05, RATE)
    start = int(burst_at_s * RATE)
    samples[start : start + burst.size] = burst
    wav = folder / f"{name}.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.tobytes())
    return opus_slice(wav, folder / f"{name}.opus", 0.0, None)


def onsets(samples: np.ndarray, threshold: float, min_gap_s: float = 0.2) -> list[float]:
    """Seconds at which ``samples`` first rise above ``threshold`` after ``min_gap_s`` of quiet."""
    times = np.flatnonzero(np.abs(samples) > threshold) / SAMPLE_RATE
    if times.size == 0:
        return []
    starts = np.concatenate(([True], np.diff(times) > min_gap_s))
    return [float(t) for t in times[starts]]


def test_every_file_lands_on_the_session_clock_over_a_long_stream(tmp_path: Path) -> None:
    # Speaker A: 40 files of 2 s, each 30 ms longer than its slot, a 10 s gap (muted) in the
    # middle; speaker B: three files, one in A's gap. Each file has a tone 0.5 s (A) or 1.2 s (B)
    # after its start.
    a = segment(tmp_path, "a", 0.5, 1000.0)
    b = segment(tmp_path, "b", 1.2, 3000.0)
    placed: list[PlacedFile] = []
    expected: list[float] = []
    for i in [*range(20), *range(25, 45)]:
        path = shutil.copy(a, tmp_path / f"a{i:02d}.opus")
        placed.append(PlacedFile(i * SLOT_S, Path(path), SLOT_S))
        expected.append(i * SLOT_S + 0.5)
    # B's files lie where a name takes quoting: spaces, a quote, Vietnamese letters.
    odd = tmp_path / "điểm cầu 'Gia Viễn'"
    odd.mkdir()
    for start in (5.0, 15.0, 41.0):
        path = shutil.copy(b, odd / f"b {start:g}.opus")
        placed.append(PlacedFile(start, Path(path), SLOT_S))
        expected.append(start + 1.2)

    mixed = tmp_path / "mixed.opus"
    mix_files(placed, mixed)
    samples = decode(mixed)

    found = onsets(samples, threshold=0.1 * float(np.abs(samples).max()))
    assert len(found) == len(expected)
    # Within 10 ms of where each tone was said, the last file as well as the first.
    assert np.abs(np.array(found) - np.array(sorted(expected))).max() == pytest.approx(0, abs=0.01)
