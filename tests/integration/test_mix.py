"""mixed.opus through real ffmpeg: every segment file lands at its place on the session clock,
and a file ffmpeg cannot read fails the mix instead of shifting or dropping a speaker."""

from __future__ import annotations

import random
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.audio import opus_slice, sine
from transcription.engine import SAMPLE_RATE, decode
from transcription.errors import AudioError
from transcription.mix import PlacedFile, mix_files

RATE = 48_000
FILE_S = 2.0


def segment(folder: Path, name: str, burst_at_s: float, freq_hz: float) -> Path:
    """A segment file, ``FILE_S`` long: silence with a 50 ms tone at ``burst_at_s``."""
    samples = np.zeros(int(FILE_S * RATE), dtype=np.int16)
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


def speaker_a(folder: Path) -> tuple[list[PlacedFile], list[float]]:
    """40 files of 2 s as the recorder writes them: each opened up to 19 ms after the one before
    it ended (its lag), and a 40 s gap in the middle (left and came back: a stream of its own
    after it); a tone 0.5 s into each."""
    a = segment(folder, "a", 0.5, 1000.0)
    rng = random.Random(7)
    placed, tones, start = [], [], 0.0
    for i in range(40):
        if i == 20:
            start += 40.0
        path = Path(shutil.copy(a, folder / f"a{i:02d}.opus"))
        placed.append(PlacedFile(start, path, FILE_S))
        tones.append(start + 0.5)
        start += FILE_S + rng.uniform(0.0, 0.019)
    return placed, tones


def test_every_file_lands_on_the_session_clock_over_a_long_stream(tmp_path: Path) -> None:
    placed, expected = speaker_a(tmp_path)
    # Speaker B: three files, one in A's gap, where a name takes quoting: spaces, a quote,
    # Vietnamese letters. A tone 1.2 s into each.
    b = segment(tmp_path, "b", 1.2, 3000.0)
    odd = tmp_path / "điểm cầu 'Gia Viễn'"
    odd.mkdir()
    for start in (5.0, 15.0, 60.0):
        path = shutil.copy(b, odd / f"b {start:g}.opus")
        placed.append(PlacedFile(start, Path(path), FILE_S))
        expected.append(start + 1.2)

    mixed = tmp_path / "mixed.opus"
    mix_files(placed, mixed)
    samples = decode(mixed)

    found = onsets(samples, threshold=0.1 * float(np.abs(samples).max()))
    assert len(found) == len(expected)
    # Within 10 ms of where each tone was said, the last file as well as the first: the lags
    # add up to about 0.4 s over A's files.
    assert np.abs(np.array(found) - np.array(sorted(expected))).max() == pytest.approx(0, abs=0.01)


@pytest.mark.parametrize("damage", ["empty", "garbage", "missing"])
def test_a_file_ffmpeg_cannot_read_fails_the_mix(tmp_path: Path, damage: str) -> None:
    placed, _tones = speaker_a(tmp_path)
    bad = placed[7].path
    if damage == "empty":
        bad.write_bytes(b"")
    elif damage == "garbage":
        bad.write_bytes(random.Random(1).randbytes(4000))
    else:
        bad.unlink()
    mixed = tmp_path / "mixed.opus"
    with pytest.raises(AudioError, match="ffmpeg could not mix"):
        mix_files(placed, mixed)
    # Nothing half-made carries the final name.
    assert not mixed.exists()
    assert list(tmp_path.glob("mixed*")) == []
