"""Audio helpers for tests: tones, speech from espeak-ng, frequencies, lengths sent, WER."""

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


# How far a tone heard may be from the tone sent, relative. Tests tell tones 15 % or more apart;
# jitter buffers stretch audio under load, and a bridged 440 Hz read 448 Hz with two busy loops
# on the two cores (1.8 %).
TONE_REL = 0.03


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    """The frequency with the most energy, by FFT over a Hann window."""
    x = samples.astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[int(np.argmax(spectrum))])


def band_energy(samples: np.ndarray, freq_hz: float, rate: int, width_hz: float = 40.0) -> float:
    """The energy of ``samples`` within ``width_hz`` around ``freq_hz``."""
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    return float(spectrum[np.abs(freqs - freq_hz) <= width_hz / 2].sum())


def holds_what_was_sent(recorded_s: float, sent_s: float) -> bool:
    """Whether a recorded track is as long as the audio sent to it over WebRTC.

    The recorder writes what the receiver's decoder gives. Its jitter buffer (NetEq) can play
    out more than was sent: it stretches audio when packets come late, and conceals the
    packets a mute stops with a continuation of the last sound. It can play out less: the
    first packets of a burst can come too late. A track sent 3.0 s held 2.93-3.09 s on a quiet
    machine, and 3.23 s in a CI run under load; so up to 0.2 s less, or 10 % and a frame more.
    """
    return sent_s - 0.2 <= recorded_s <= sent_s * 1.1 + 0.1


def speak(text: str, out: Path, voice: str = "en") -> Path:
    """Speech for ``text`` from espeak-ng, as a WAV file."""
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(out), text], check=True)
    return out


def speech_pcm(text: str, wav: Path, rate: int = 48000) -> np.ndarray:
    """Speech for ``text`` (espeak-ng, written to ``wav``) as mono int16 samples at ``rate``,
    without its leading and trailing digital silence."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(speak(text, wav)), "-f", "s16le", "-ac", "1",
         "-ar", str(rate), "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    pcm = np.frombuffer(raw, dtype=np.int16)
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > 4)
    return pcm[loud[0] : loud[-1] + 1]


def normalise(text: str) -> str:
    """Lowercase, NFC, no punctuation, single spaces: how reference and hypothesis are compared."""
    text = unicodedata.normalize("NFC", text).lower()
    text = re.sub(r"[^\w\s']", " ", text)
    return " ".join(text.split())


def word_error_rate(reference: str, hypothesis: str) -> float:
    """WER of ``hypothesis`` against ``reference`` after :func:`normalise`."""
    return float(jiwer.wer(normalise(reference), normalise(hypothesis)))


def word_edits(reference: str, hypothesis: str) -> int:
    """Words substituted, deleted or inserted to turn ``reference`` into ``hypothesis`` (after
    :func:`normalise`): a count, for comparisons where a rate over a few words is too coarse."""
    out = jiwer.process_words(normalise(reference), normalise(hypothesis))
    return int(out.substitutions + out.deletions + out.insertions)


def opus_slice(source: Path, out: Path, start_s: float, length_s: float | None) -> Path:
    """A piece of ``source`` as Ogg/Opus, 48 kHz mono, as the recorder writes its segment files."""
    length = ["-t", f"{length_s:.3f}"] if length_s is not None else []
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-ss", f"{start_s:.3f}", "-i", str(source), *length,
         "-ac", "1", "-ar", "48000", "-c:a", "libopus", "-b:a", "48k", str(out)],
        check=True,
    )  # fmt: skip
    return out


def duration_s(path: Path) -> float:
    """The duration of an audio file, from ffprobe."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
         str(path)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return float(out.stdout.strip())
