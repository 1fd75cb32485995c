"""Transcription: word error rate of the pipeline against the plain model call, and the speed of
per-speaker transcription against one pass over the mixed recording.

Two parts, in one run (each can be skipped):

1. ``shared/audio`` (real speech with references): per corpus, WER of the plain call
   ``WhisperModel(...).transcribe(path, language=..., beam_size=...)`` against the pipeline's
   :class:`transcription.engine.Transcriber` (same model, beam and threads). Whisper falls back to
   sampling at higher temperatures on hard windows, so WER varies from run to run; ``--repeats``
   runs each several times and prints mean, min and max.
2. A synthetic session of ``--session-minutes`` (default 10) with 4 speakers: espeak-ng lines
   with pauses, each speaker's track cut into 10 s segment files as the recorder writes them, and
   the mixed recording made with ffmpeg ``amix``. Times the per-speaker pipeline (VAD skips each
   track's silence) against plain faster-whisper on the mixed file, and prints the speed ratio,
   both WERs against the script and the pipeline's real-time factor. A third row times the
   rejected batched decoding per speaker, to show why it is not used.

How to run it, and the latest figures: ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import jiwer
import numpy as np
import numpy.typing as npt
from faster_whisper import WhisperModel  # type: ignore[import-untyped]

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # for tests.audio: one normalisation for tests and benchmark

from config import load_settings  # noqa: E402
from tests.audio import normalise, speak  # noqa: E402
from transcription.cleanup import clean_segments  # noqa: E402
from transcription.engine import (  # noqa: E402
    SAMPLE_RATE,
    Transcriber,
    decode,
    load_model,
    to_segment,
)
from transcription.merge import Speaker, merge  # noqa: E402
from transcription.track import join_run, transcribe_track  # noqa: E402

AUDIO = REPO.parent / "shared" / "audio"
CORPORA = ("cv", "fosd", "ljspeech")
SEGMENT_S = 10
VOICES = ("en-us", "en-gb+f2", "en-gb-x-rp+m3", "en-us+f4")


def corpus_wer(pairs: list[tuple[str, str]]) -> float:
    """Errors over reference words across a corpus, after the shared normalisation."""
    return float(jiwer.wer([normalise(r) for r, _ in pairs], [normalise(h) for _, h in pairs]))


def spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} [{min(values):.4f}-{max(values):.4f}]"


def bench_corpora(transcriber: Transcriber, repeats: int) -> None:
    model = load_model(transcriber.choice)
    beam = transcriber.settings.beam_size
    with (AUDIO / "manifest.tsv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    print(f"\n== shared/audio: WER, plain call vs pipeline ({repeats} run(s) each) ==")
    header = f"{'corpus':9} {'clips':>5} {'audio s':>8}  {'plain WER':26} {'pipeline WER':26}"
    print(f"{header} time plain/pipeline")
    for corpus in CORPORA:
        clips = [r for r in rows if r["file"].startswith(corpus + "/")]
        seconds = sum(decode(AUDIO / r["file"]).size for r in clips) / SAMPLE_RATE
        plain_wers, pipe_wers, plain_s, pipe_s = [], [], 0.0, 0.0
        for _ in range(repeats):
            started = time.monotonic()
            plain = []
            for r in clips:
                segments, _info = model.transcribe(
                    str(AUDIO / r["file"]), language=r["language"], beam_size=beam
                )
                plain.append((r["reference"], " ".join(s.text for s in segments)))
            plain_s += time.monotonic() - started
            started = time.monotonic()
            pipe = [
                (
                    r["reference"],
                    " ".join(
                        s.text
                        for s in transcriber.transcribe(AUDIO / r["file"], language=r["language"])
                    ),
                )
                for r in clips
            ]
            pipe_s += time.monotonic() - started
            plain_wers.append(corpus_wer(plain))
            pipe_wers.append(corpus_wer(pipe))
        times = f"{plain_s / repeats:.1f}s/{pipe_s / repeats:.1f}s"
        print(
            f"{corpus:9} {len(clips):5d} {seconds:8.1f}  {spread(plain_wers):26} "
            f"{spread(pipe_wers):26} {times}"
        )


SUBJECTS = (
    "The citizen",
    "Our committee",
    "The land office",
    "The district officer",
    "My family",
    "The chair",
    "The inspector",
    "The commune leader",
)
VERBS = (
    "asked about",
    "received",
    "reviewed",
    "explained",
    "will send",
    "has not answered",
    "wants to discuss",
    "checked",
)
OBJECTS = (
    "the compensation for the new road",
    "the complaint from last year",
    "the boundary of the rice field",
    "the decision of the provincial committee",
    "the documents for the land certificate",
    "the schedule of the next meeting",
    "the letter about the water supply",
    "the report on the school building",
)
TAILS = (
    "before the end of the month",
    "at the commune office",
    "with the help of the lawyer",
    "as soon as possible",
    "in writing",
    "during the morning session",
)


def line(rng: random.Random) -> str:
    """One or two sentences a participant might say."""
    return " ".join(
        f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(TAILS)}."
        for _ in range(rng.choice((1, 1, 2)))
    )


def write_wav(path: Path, samples: npt.NDArray[np.float32]) -> Path:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm.tobytes())
    return path


@dataclass(frozen=True)
class Session:
    """A synthetic session on disk.

    Attributes:
        segment_files: per speaker, ``(start_s, path)`` of 10 s segment files.
        mixed: every speaker mixed into one file.
        reference: what was said, in order.
        duration_s: the session's length.
        speech_s: seconds of speech in it.
    """

    segment_files: list[list[tuple[float, Path]]]
    mixed: Path
    reference: str
    duration_s: float
    speech_s: float


Turn = tuple[int, str, "npt.NDArray[np.float32]"]
"""A speaker's index, what they said, and the audio of it."""


@dataclass(frozen=True)
class Layout:
    """Turns laid out on one clock.

    Attributes:
        tracks: each speaker's audio from the session's start (silence between their turns).
        placed: ``(speaker, start_s, text, seconds)`` of every turn, in order of start.
        duration_s: the session's length.
    """

    tracks: list[npt.NDArray[np.float32]]
    placed: list[tuple[int, float, str, float]]
    duration_s: float

    @property
    def speech_s(self) -> float:
        return sum(seconds for *_rest, seconds in self.placed)


def lay_out(
    speakers: int, turns: list[Turn], rng: random.Random, pauses: tuple[float, float],
    overlap: float = 0.0,
) -> Layout:  # fmt: skip
    """Lay ``turns`` out on one clock: a pause before each, or with probability ``overlap`` a
    start 0.8 s before the previous turn ends."""
    starts: list[tuple[int, float]] = []
    clock = 1.0
    for speaker, _text, samples in turns:
        if starts and starts[-1][0] != speaker and rng.random() < overlap:
            clock = max(starts[-1][1], clock - 0.8 - rng.uniform(*pauses))
        starts.append((speaker, clock))
        clock += samples.size / SAMPLE_RATE + rng.uniform(*pauses)
    size = round(clock * SAMPLE_RATE) + SAMPLE_RATE
    tracks = [np.zeros(size, dtype=np.float32) for _ in range(speakers)]
    for (speaker, start), (_speaker, _text, samples) in zip(starts, turns, strict=True):
        at = round(start * SAMPLE_RATE)
        tracks[speaker][at : at + samples.size] += samples
    placed = [
        (speaker, start, text, samples.size / SAMPLE_RATE)
        for (speaker, start), (_s, text, samples) in zip(starts, turns, strict=True)
    ]
    return Layout(tracks, sorted(placed, key=lambda p: p[1]), size / SAMPLE_RATE)


def place_session(
    folder: Path, speakers: int, turns: list[Turn], rng: random.Random,
    pauses: tuple[float, float], overlap: float = 0.0,
) -> Session:  # fmt: skip
    """Lay ``turns`` out (:func:`lay_out`), then write each speaker's track as 10 s segment
    files, as the recorder does, and the mixed recording."""
    layout = lay_out(speakers, turns, rng, pauses, overlap)
    segment_files: list[list[tuple[float, Path]]] = []
    full_tracks = []
    step = SEGMENT_S * SAMPLE_RATE
    for index, track in enumerate(layout.tracks):
        full_tracks.append(write_wav(folder / f"track{index}.wav", track))
        segment_files.append(
            [
                (
                    at / SAMPLE_RATE,
                    write_wav(folder / f"track{index}-{at // step:04d}.wav", track[at : at + step]),
                )
                for at in range(0, track.size, step)
            ]
        )
    mixed = folder / "mixed.wav"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            *[a for p in full_tracks for a in ("-i", str(p))],
            "-filter_complex",
            f"amix=inputs={len(full_tracks)}:normalize=0",
            str(mixed),
        ],
        check=True,
    )
    reference = " ".join(text for _speaker, _start, text, _seconds in layout.placed)
    return Session(segment_files, mixed, reference, layout.duration_s, layout.speech_s)


def espeak_session(folder: Path, minutes: float, pauses: tuple[float, float]) -> Session:
    """A session of espeak-ng lines by four synthetic English voices."""
    rng = random.Random(5)
    turns: list[Turn] = []
    length = 0.0
    while length < minutes * 60:
        speaker, text = rng.randrange(len(VOICES)), line(rng)
        samples = decode(speak(text, folder / f"line{len(turns)}.wav", voice=VOICES[speaker]))
        turns.append((speaker, text, samples))
        length += samples.size / SAMPLE_RATE + sum(pauses) / 2
    return place_session(folder, len(VOICES), turns, random.Random(5), pauses)


HUMAN_SPEAKERS = 4


def human_session(folder: Path) -> Session:
    """A session of real voices from ``shared/audio`` (:func:`human_turns`), pauses of 0.5-3 s
    and one turn in five starting before the previous one ends."""
    turns = human_turns()
    return place_session(folder, HUMAN_SPEAKERS, turns, random.Random(7), (0.5, 3.0), 0.2)


def human_turns(audio: Path = AUDIO) -> list[Turn]:
    """The clips of ``shared/audio`` (or ``audio``) as turns: the English reader (LJ Speech) on
    one track, the Vietnamese clips (Common Voice, FOSD) dealt over three more, turns
    alternating."""
    with (audio / "manifest.tsv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    english = [r for r in rows if r["language"] == "en"]
    vietnamese = [r for r in rows if r["language"] == "vi"]
    turns: list[Turn] = []
    for i, row in enumerate(vietnamese):
        turns.append((1 + i % 3, row["reference"], decode(audio / row["file"])))
        if i % 4 == 3 and english:
            row = english.pop(0)
            turns.append((0, row["reference"], decode(audio / row["file"])))
    turns += [(0, r["reference"], decode(audio / r["file"])) for r in english]
    return turns


def _batched(
    model: WhisperModel, beam: int, segment_files: list[list[tuple[float, Path]]], language: str
) -> str:
    """Each track's speech chunks decoded in batches of 8 by ``BatchedInferencePipeline`` (word
    timestamps, segments split at pauses, merged by start): no temperature fallback, and each
    chunk without the context of the chunks before it."""
    from faster_whisper import BatchedInferencePipeline

    pipeline = BatchedInferencePipeline(model)
    segments = []
    for files in segment_files:
        track = join_run([(start, decode(path)) for start, path in files])
        raw, _info = pipeline.transcribe(
            track, language=language, beam_size=beam, batch_size=8, word_timestamps=True,
            without_timestamps=False,
        )  # fmt: skip
        segments += clean_segments([to_segment(r) for r in raw])
    return " ".join(s.text for s in sorted(segments, key=lambda s: s.start))


def _sequential(
    transcriber: Transcriber, segment_files: list[list[tuple[float, Path]]], language: str
) -> str:
    """The pipeline: each track through :func:`transcribe_track`, merged by start."""
    results = [
        transcribe_track(
            transcriber, files, track_id=f"TR_{i}", speaker=Speaker(f"S{i}"), language=language
        )
        for i, files in enumerate(segment_files)
    ]
    transcript = merge([r.transcript for r in results], language=language)
    return " ".join(u.text for u in transcript.utterances)


MODES = ("plain, mixed file", "plain + VAD, mixed file", "sequential, per speaker",
         "batched, per speaker")  # fmt: skip
PER_SPEAKER = MODES[2:]
"""The modes that keep who said what: the pipeline's default is chosen among these."""


def bench_session(
    transcriber: Transcriber, title: str, session: Session, language: str, repeats: int
) -> dict[str, tuple[float, float]]:
    """Every mode on ``session``, ``repeats`` times: prints wall and CPU seconds (CPU time is
    fairer on a shared machine: what the other processes take does not count), WER and the
    real-time factor; returns each mode's mean (CPU seconds, WER)."""
    model = load_model(transcriber.choice)
    beam = transcriber.settings.beam_size
    duration = session.duration_s
    print(
        f"\n== {title}: {duration / 60:.1f} min, {len(session.segment_files)} speakers, "
        f"speech {session.speech_s / duration:.0%}, language {language}, {repeats} run(s) =="
    )

    def plain(vad: bool) -> str:
        segments, _info = model.transcribe(
            str(session.mixed), language=language, beam_size=beam, vad_filter=vad
        )
        return " ".join(s.text for s in segments)

    runs = {
        MODES[0]: lambda: plain(False),
        MODES[1]: lambda: plain(True),
        MODES[2]: lambda: _sequential(transcriber, session.segment_files, language),
        MODES[3]: lambda: _batched(model, beam, session.segment_files, language),
    }
    means: dict[str, tuple[float, float]] = {}
    print(f"{'mode':26} {'wall s':>16} {'CPU s':>16} {'WER':>26} {'RTF (CPU)':>9}")
    for mode, run in runs.items():
        walls, cpus, wers = [], [], []
        for _ in range(repeats):
            wall, cpu = time.monotonic(), time.process_time()
            text = run()
            walls.append(time.monotonic() - wall)
            cpus.append(time.process_time() - cpu)
            wers.append(corpus_wer([(session.reference, text)]))
        means[mode] = (statistics.mean(cpus), statistics.mean(wers))
        print(
            f"{mode:26} {spread(walls):>16} {spread(cpus):>16} {spread(wers):>26} "
            f"{statistics.mean(cpus) / duration:9.3f}"
        )
    best = min(wer for _cpu, wer in means.values())
    fit = [m for m in PER_SPEAKER if means[m][1] <= best + 0.01]
    choice = (
        min(fit, key=lambda m: means[m][0]) if fit else min(PER_SPEAKER, key=lambda m: means[m][1])
    )
    print(
        f"best WER {best:.4f}; the fastest per-speaker mode within 0.01 of it: {choice}"
        if fit
        else f"no per-speaker mode within 0.01 of the best; the closest: {choice}"
    )
    return means


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=1, help="runs of each corpus and mode")
    parser.add_argument("--session-minutes", type=float, default=10.0)
    parser.add_argument(
        "--pauses",
        type=float,
        nargs=2,
        default=(1.5, 5.0),
        metavar=("MIN", "MAX"),
        help="seconds of silence between turns in the espeak-ng session",
    )
    parser.add_argument("--skip-corpora", action="store_true")
    parser.add_argument("--skip-human", action="store_true")
    parser.add_argument("--skip-espeak", action="store_true")
    args = parser.parse_args()
    settings = load_settings()
    transcriber = Transcriber(settings.whisper, settings.paths)
    choice = transcriber.choice
    print(
        f"model {choice.model} on {choice.device} ({choice.compute_type}, "
        f"{choice.cpu_threads or 'default'} threads), beam {transcriber.settings.beam_size}; "
        f"pipeline {transcriber.options}"
    )
    if not args.skip_corpora:
        bench_corpora(transcriber, args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_human:
            folder = Path(tmp, "human")
            folder.mkdir()
            session = human_session(folder)
            bench_session(transcriber, "human voices (shared/audio)", session, "vi", args.repeats)
        if not args.skip_espeak:
            folder = Path(tmp, "espeak")
            folder.mkdir()
            session = espeak_session(folder, args.session_minutes, tuple(args.pauses))
            bench_session(transcriber, "espeak-ng voices", session, "en", args.repeats)


if __name__ == "__main__":
    main()
