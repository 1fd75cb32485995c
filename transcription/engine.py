"""Speech recognition with faster-whisper: one model per worker process, the language pinned.

The model is loaded once per process (:func:`load_model` keeps it, keyed by model, device, compute
type and threads) when a :class:`Transcriber` is built, so a missing or corrupt model stops a
worker at start, not on every task. The language comes from the session (default ``vi``): it is
never detected unless ``language=None`` is passed, because detection is unreliable on short or
accented speech (5 of the 26 Vietnamese clips in ``shared/audio`` are detected as another
language). Silence is skipped with VAD and every word is timed.

Decoding choices were measured with the embedded multilingual *base* model, int8 on 2 CPU
cores, beam 5, on ``shared/audio``, with ``benchmarks/bench_transcribe.py``,
``benchmarks/bench_decoding.py`` and one-off sweeps; the figures are in ``benchmarks/README.md``.
The pipeline (VAD, word timestamps, clean-up) is as good as the plain model call. None of the
decoding options swept is kept, because none was better on both Vietnamese corpora by more than
the run-to-run spread (one word in cv's 145 is 0.007; the temperature fallback moves cv by up to
0.04 between runs): ``patience=2``, ``repetition_penalty`` 1.05 or 1.1, VAD ``threshold=0.4``
with less padding, ``hallucination_silence_threshold`` 1 or 2 s, beam 8, ``no_speech_threshold``
0.3. Three are harmful in a way that holds beyond these clips: a shorter temperature fallback
(up to 0.6) let windows end in loops (fosd 0.55 -> 1.14); ``no_repeat_ngram_size`` breaks
correct sentences, because reception speech repeats phrases ("Ủy ban nhân dân xã ... Ủy ban nhân
dân huyện") inside one window; and a lower ``compression_ratio_threshold``, best on the short
clips, is a trap on long speech: a full 30 s window of ordinary speech compresses about 2:1, so
half of all windows were resampled, at 2.4 times the time and a higher WER. The session's own
vocabulary as hotwords or prompt is a setting (:mod:`transcription.glossary`), off for the base
model.

Kept instead, as text clean-up (:mod:`transcription.cleanup`): dropping back-to-back repeats of a
sentence (VAD runs loop on one clip, "Cảm ơn các bạn ạ" three times), collapsing a word or short
phrase said four times or more in a row (the loop Whisper falls into in silence or noise, "ạ ạ
ạ"; it changes no clip of ``shared/audio``), and splitting segments at pauses, which changes no
clip's text but fixes the order of a merged multi-speaker transcript. Tone-mark placement needs
no normalising: the model writes the traditional placement ("hòa", "ủy") as the references do.
Text is put in Unicode NFC with single spaces.
"""

from __future__ import annotations

import enum
import logging
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from config.errors import ModelError
from config.settings import PathSettings, WhisperSettings
from config.whisper_model import locate_model
from transcription.cleanup import clean_segments
from transcription.errors import AudioError, InferenceError, ModelLoadError
from transcription.glossary import SessionVocabulary, decoder_hints
from transcription.segments import TranscribedSegment, Word

if TYPE_CHECKING:
    from faster_whisper import WhisperModel  # type: ignore[import-untyped]

log = logging.getLogger(__name__)

SAMPLE_RATE: Final = 16000
"""Whisper's input rate: audio is decoded and resampled to 16 kHz mono float32."""

ProgressCallback = Callable[[float, float], None]
"""Called as ``progress(seconds_done, seconds_total)`` while audio is transcribed."""

AudioInput = Path | str | npt.NDArray[np.float32]
"""A file to decode, or 16 kHz mono float32 samples."""


class FromSettings(enum.Enum):
    """The type of :data:`FROM_SETTINGS`."""

    LANGUAGE = "the language in WhisperSettings"


FROM_SETTINGS: Final = FromSettings.LANGUAGE
"""The default for ``language``: the configured one. Pass ``None`` to have it detected."""


@dataclass(frozen=True)
class DecodingOptions:
    """How the pipeline decodes and cleans up, beyond the settings (see the module docstring).

    Attributes:
        vad_filter: skip silence with Silero VAD (a speaker's track is mostly silence).
        word_timestamps: time every word (for search hits and the jump to the recording).
        clean_up: split segments at pauses and drop decoding loops
            (:func:`transcription.cleanup.clean_segments`).
        candidates: further ``WhisperModel.transcribe`` options, as ``(name, value)`` pairs:
            for benchmarks weighing an option before it becomes a setting.
    """

    vad_filter: bool = True
    word_timestamps: bool = True
    clean_up: bool = True
    candidates: tuple[tuple[str, Any], ...] = ()


PIPELINE_OPTIONS: Final = DecodingOptions()
"""The options every transcription of the pipeline uses (see the module docstring)."""


@dataclass(frozen=True)
class ModelChoice:
    """Which model runs where: also the key of the per-process model cache.

    Attributes:
        model: a model directory, or a name faster-whisper resolves.
        device: ``cpu`` or ``cuda``.
        compute_type: CTranslate2 compute type (``int8``, ``float16``, ...).
        cpu_threads: threads on CPU (0: CTranslate2's default).
    """

    model: str
    device: str
    compute_type: str
    cpu_threads: int


def choose_model(whisper: WhisperSettings, paths: PathSettings) -> ModelChoice:
    """Resolve ``auto`` device and compute type, and locate the model.

    Raises:
        ModelLoadError: the embedded model is missing or corrupted, or a model directory given
            as a path does not exist.
    """
    import ctranslate2  # type: ignore[import-untyped]

    try:
        model = locate_model(whisper, paths)
    except ModelError as e:
        raise ModelLoadError(str(e)) from e
    if (Path(model).is_absolute() or model.startswith((".", "~"))) and not Path(model).is_dir():
        # Anything else not a directory is a model name faster-whisper would try to download.
        raise ModelLoadError(f"Whisper model directory not found: {model}")
    device = whisper.device
    if device == "auto":
        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    compute_type = whisper.compute_type
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return ModelChoice(model, device, compute_type, whisper.cpu_threads)


def pool_shape(
    cores: int, device: str, concurrency: int | None, cpu_threads: int
) -> tuple[int, int]:
    """A worker's jobs at once and each job's CPU threads (pure).

    On CPU, one job per core, each model on its share of the cores: one decoder does not keep two
    cores busy (beam search steps one token at a time), and several jobs of CTranslate2's
    default 4 threads each would fight over fewer cores. On a GPU, one job: the GPU is shared,
    and each job would hold a copy of the model in its memory.

    Args:
        cores: CPU cores this process may run on.
        device: where the model runs (``cpu`` or ``cuda``).
        concurrency: jobs at once, as asked (``None``: choose).
        cpu_threads: ``whisper.cpu_threads`` (0: choose).
    """
    jobs = concurrency or (1 if device == "cuda" else cores)
    return jobs, cpu_threads or max(1, cores // jobs)


_models: dict[ModelChoice, WhisperModel] = {}
_models_lock = threading.Lock()


def load_model(choice: ModelChoice) -> WhisperModel:
    """The model for ``choice``, loaded on first use and kept for the life of the process.

    Raises:
        ModelLoadError: the model cannot be loaded; the message names it.
    """
    with _models_lock:
        if choice not in _models:
            from faster_whisper import WhisperModel

            try:
                _models[choice] = WhisperModel(
                    choice.model,
                    device=choice.device,
                    compute_type=choice.compute_type,
                    cpu_threads=choice.cpu_threads,
                )
            # The vendor boundary: a missing directory, a corrupt model.bin, an unknown name
            # offline or an unusable device each raise something different.
            except Exception as e:
                raise ModelLoadError(
                    f"cannot load Whisper model {choice.model!r} on {choice.device} "
                    f"({choice.compute_type}): {e}"
                ) from e
            log.info(
                "loaded Whisper model %s on %s (%s)",
                choice.model,
                choice.device,
                choice.compute_type,
            )
        return _models[choice]


def decode(path: Path | str) -> npt.NDArray[np.float32]:
    """A file's audio as 16 kHz mono float32 samples.

    Raises:
        AudioError: the file is missing, cannot be decoded, or holds no audio.
    """
    from faster_whisper import decode_audio

    if not Path(path).is_file():
        raise AudioError(path, "no such file")
    if Path(path).stat().st_size == 0:
        raise AudioError(path, "empty file (0 bytes)")
    try:
        samples = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    # PyAV raises many kinds (InvalidDataError, a missing audio stream, ...) for bad input.
    except Exception as e:
        # PyAV's message repeats the path and an errno; its strerror alone says what is wrong.
        reason = getattr(e, "strerror", None) or str(e) or type(e).__name__
        raise AudioError(path, f"not readable as audio: {reason}") from e
    if samples.size == 0:
        raise AudioError(path, "holds no audio")
    return np.asarray(samples, dtype=np.float32)


def clean_text(text: str) -> str:
    """Recognised text as stored: Unicode NFC, single spaces, trimmed."""
    return " ".join(unicodedata.normalize("NFC", text).split())


class Transcriber:
    """faster-whisper with tiepdan's settings; build one per process and reuse it.

    Args:
        whisper: model, device, compute type, threads, beam size and default language.
        paths: where the embedded model is assembled.
        model: a model directory or name overriding ``whisper.model``.
        options: decoding choices; the measured pipeline defaults unless comparing.

    Raises:
        ModelLoadError: the model is missing, corrupt or cannot run on the device: at
            construction, so a worker fails at start rather than on every task.
    """

    def __init__(
        self,
        whisper: WhisperSettings,
        paths: PathSettings,
        *,
        model: str | None = None,
        options: DecodingOptions = PIPELINE_OPTIONS,
    ) -> None:
        if model is not None:
            whisper = whisper.model_copy(update={"model": model})
        self.settings = whisper
        self.options = options
        self.choice = choose_model(whisper, paths)
        self._model = load_model(self.choice)

    def transcribe(
        self,
        audio: AudioInput,
        *,
        language: str | None | FromSettings = FROM_SETTINGS,
        vocabulary: SessionVocabulary | None = None,
        progress: ProgressCallback | None = None,
    ) -> list[TranscribedSegment]:
        """Recognise the speech in ``audio``, skipping silence.

        Args:
            audio: a file, or 16 kHz mono float32 samples.
            language: the language spoken; by default the configured one. ``None`` has it
                detected, which is unreliable on short or accented speech.
            vocabulary: the session's own names, given to the decoder as the
                ``session_vocabulary`` setting says (:func:`transcription.glossary.decoder_hints`).
            progress: called with (seconds done, seconds total) as the audio is worked through.

        Returns:
            The segments, timed from the start of ``audio``.

        Raises:
            AudioError: the file cannot be decoded or holds no audio.
            InferenceError: the model failed while running.
        """
        samples = decode(audio) if isinstance(audio, Path | str) else _check_samples(audio)
        total = samples.size / SAMPLE_RATE
        if language is FROM_SETTINGS:
            language = self.settings.language
        initial_prompt, hotwords = decoder_hints(vocabulary, self.settings.session_vocabulary)
        try:
            raw_segments, _info = self._model.transcribe(
                samples,
                language=language,
                beam_size=self.settings.beam_size,
                vad_filter=self.options.vad_filter,
                word_timestamps=self.options.word_timestamps,
                initial_prompt=initial_prompt,
                hotwords=hotwords,
                **dict(self.options.candidates),
            )
            segments = []
            for raw in raw_segments:
                segments.append(to_segment(raw))
                if progress is not None:
                    progress(min(raw.end, total), total)
        except RuntimeError as e:
            raise InferenceError(f"Whisper failed on {_name(audio)}: {e}") from e
        if progress is not None:
            progress(total, total)
        if self.options.clean_up:
            segments = clean_segments(segments)
        return [s for s in segments if s.text]


def _name(audio: AudioInput) -> str:
    return str(audio) if isinstance(audio, Path | str) else "<samples>"


def _check_samples(samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    if samples.ndim != 1 or samples.size == 0:
        raise AudioError("<samples>", f"expected mono samples, got shape {samples.shape}")
    return np.asarray(samples, dtype=np.float32)


def to_segment(raw: Any) -> TranscribedSegment:
    """Our frozen copy of a ``faster_whisper.transcribe.Segment``."""
    return TranscribedSegment(
        start=round(raw.start, 3),
        end=round(raw.end, 3),
        text=clean_text(raw.text),
        words=tuple(
            Word(round(w.start, 3), round(w.end, 3), clean_text(w.word), w.probability)
            for w in raw.words or ()
        ),
        avg_logprob=raw.avg_logprob,
        no_speech_prob=raw.no_speech_prob,
    )
