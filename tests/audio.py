"""Audio helpers for tests: tones, speech from espeak-ng, the dominant frequency, WER."""

from __future__ import annotations

import re
import subprocess
import unicodedata
from pathlib import Path

import jiwer
import numpy as np


def sine(freq_hz: float, seconds: float, rate: int = 48000, amplitude: float = 0.5) -> np.ndarray:
    """A mono int16 sine wave."""
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * 32767 * np.sin(2 * np.pi * freq_hz * t)).astype(np.int16)


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    """The frequency with the most energy, by FFT over a Hann window."""
    x = samples.astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[int(np.argmax(spectrum))])


def speak(text: str, out: Path, voice: str = "en") -> Path:
    """Speech for ``text`` from espeak-ng, as a WAV file."""
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(out), text], check=True)
    return out


def normalise(text: str) -> str:
    """Lowercase, NFC, no punctuation, single spaces: how reference and hypothesis are compared."""
    text = unicodedata.normalize("NFC", text).lower()
    text = re.sub(r"[^\w\s']", " ", text)
    return " ".join(text.split())


def word_error_rate(reference: str, hypothesis: str) -> float:
    """WER of ``hypothesis`` against ``reference`` after :func:`normalise`."""
    return float(jiwer.wer(normalise(reference), normalise(hypothesis)))
