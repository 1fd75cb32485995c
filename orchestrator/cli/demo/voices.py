"""The demo's voices: each scripted line spoken by espeak-ng, as 48 kHz mono PCM."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from media.voice_bot import RATE
from orchestrator.cli.demo.script import Line

# Each speaker a little different, so the recording sounds like several people; chosen among
# espeak-ng's Vietnamese variants for what the embedded base model still transcribes.
VOICES = {"chair": ("vi", 140, 45), "officer": ("vi+f2", 140, 60), "citizen": ("vi", 140, 65),
          "central": ("vi+m3", 140, 40)}  # fmt: skip
PAUSE_S = 0.8


def speak(line: Line, wav: Path) -> np.ndarray:
    """The line spoken by its speaker's voice (kept in ``wav``), with a short pause after it.

    Raises:
        RuntimeError: espeak-ng or ffmpeg failed (the message says which and why).
    """
    voice, rate, pitch = VOICES[line.speaker]
    argv = ["espeak-ng", "-v", voice, "-s", str(rate), "-p", str(pitch), "-w", str(wav), line.text]
    done = subprocess.run(argv, capture_output=True, check=False)
    if done.returncode:
        raise RuntimeError(f"espeak-ng failed: {done.stderr.decode(errors='replace')}")
    decoded = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(wav), "-f", "s16le", "-ac", "1", "-ar", str(RATE), "-"],
        capture_output=True, check=False,
    )  # fmt: skip
    if decoded.returncode:
        raise RuntimeError(f"ffmpeg failed on {wav}: {decoded.stderr.decode(errors='replace')}")
    pcm = np.frombuffer(decoded.stdout, dtype=np.int16)
    return np.concatenate([pcm, np.zeros(int(PAUSE_S * RATE), dtype=np.int16)])


def speak_script(lines: Sequence[Line]) -> list[np.ndarray]:
    """Every line of ``lines`` spoken (:func:`speak`), in order; blocking, for a worker thread."""
    with tempfile.TemporaryDirectory(prefix="tiepdan-demo-") as tmp:
        return [speak(line, Path(tmp) / f"line-{i}.wav") for i, line in enumerate(lines)]
