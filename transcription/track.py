"""Transcribe one speaker's track: its segment files joined where they touch, timed on the
session clock.

The recorder cuts each speaker's audio into short files (at most 10 s), each starting at a known
time on the session clock. Transcribing the files one by one would cut words at every file
boundary, so files that follow each other without a gap are decoded and joined into one stream
first; only real gaps (the speaker muted, or left) separate the pieces Whisper sees.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from transcription.engine import (
    FROM_SETTINGS,
    SAMPLE_RATE,
    FromSettings,
    ProgressCallback,
    Transcriber,
    decode,
)
from transcription.errors import AudioError
from transcription.glossary import SessionVocabulary
from transcription.merge import Speaker, TrackTranscript
from transcription.segments import TranscribedSegment

log = logging.getLogger(__name__)

CONTIGUOUS_TOLERANCE_S: Final = 0.05
"""Files whose end and next start differ by at most this are one stream."""


@dataclass(frozen=True)
class FailedFile:
    """A segment file left out of a track because it cannot be used.

    Attributes:
        path: the file.
        reason: why, for a person to read.
    """

    path: Path
    reason: str


@dataclass(frozen=True)
class TrackResult:
    """A track's transcript, and the files that were left out of it.

    Attributes:
        transcript: the recognised speech, in pieces placed on the session clock.
        failed: files that could not be decoded; their time is a gap in the transcript.
    """

    transcript: TrackTranscript
    failed: tuple[FailedFile, ...] = ()


def contiguous_runs(
    spans: Sequence[tuple[float, float]], tolerance_s: float = CONTIGUOUS_TOLERANCE_S
) -> list[list[int]]:
    """Group files that follow each other without a gap (pure).

    Args:
        spans: ``(start_s, duration_s)`` of each file, in any order.
        tolerance_s: the largest gap or overlap between one file's end and the next one's start
            that still counts as touching (the recorder's timestamps are not sample-exact).

    Returns:
        Runs of indices into ``spans``, each run ordered by start, runs ordered by start.
    """
    runs: list[list[int]] = []
    run_end = float("-inf")
    for index in sorted(range(len(spans)), key=lambda i: spans[i][0]):
        start, duration = spans[index]
        if runs and abs(start - run_end) <= tolerance_s:
            runs[-1].append(index)
        else:
            runs.append([index])
        run_end = start + duration
    return runs


def join_run(
    pieces: Sequence[tuple[float, npt.NDArray[np.float32]]],
) -> npt.NDArray[np.float32]:
    """Join touching pieces into one stream, each placed at its own start (pure).

    Placing by start time rather than just concatenating keeps small timing slack from adding
    up over an hour of files: a short gap is filled with silence, a short overlap trimmed.
    """
    run_start = pieces[0][0]
    placed = [(max(0, round((start - run_start) * SAMPLE_RATE)), s) for start, s in pieces]
    # One allocation: an hour-long run is 360 files, too many to concatenate one by one.
    stream = np.zeros(max(at + s.size for at, s in placed), dtype=np.float32)
    for at, samples in placed:
        stream[at : at + samples.size] = samples  # a later file overwrites a short overlap
    return stream


def transcribe_track(
    transcriber: Transcriber,
    segment_files: Sequence[tuple[float, Path | str]],
    *,
    track_id: str,
    speaker: Speaker,
    language: str | None | FromSettings = FROM_SETTINGS,
    vocabulary: SessionVocabulary | None = None,
    progress: ProgressCallback | None = None,
) -> TrackResult:
    """Transcribe a speaker's segment files as continuous speech wherever they touch.

    Args:
        transcriber: the process's recogniser.
        segment_files: ``(start_s on the session clock, path)`` of each recorded file.
        track_id: the track's id, carried into the transcript.
        speaker: who spoke on the track.
        language: as in :meth:`Transcriber.transcribe`.
        vocabulary: as in :meth:`Transcriber.transcribe`.
        progress: called with (seconds done, seconds total) over the whole track.

    Returns:
        The transcript pieces, one per run of touching files, and any file left out.

    Raises:
        AudioError: no file of the track could be decoded (or the track has none).
    """
    decoded: list[tuple[float, npt.NDArray[np.float32]]] = []
    failed: list[FailedFile] = []
    for start_s, path in segment_files:
        try:
            decoded.append((start_s, decode(path)))
        except AudioError as e:
            log.warning(
                "track %s: leaving out %s: %s",
                track_id,
                e.path,
                e.reason,
                extra={"track_id": track_id},
            )
            failed.append(FailedFile(e.path, e.reason))
    if not decoded:
        reasons = "; ".join(f"{f.path.name}: {f.reason}" for f in failed) or "no segment files"
        raise AudioError(f"track {track_id}", f"no usable audio ({reasons})")

    runs = [
        [decoded[i] for i in run]
        for run in contiguous_runs([(start, s.size / SAMPLE_RATE) for start, s in decoded])
    ]
    streams = [(run[0][0], join_run(run)) for run in runs]
    total = sum(stream.size for _start, stream in streams) / SAMPLE_RATE
    done = 0.0
    pieces: list[tuple[float, tuple[TranscribedSegment, ...]]] = []
    for start_s, stream in streams:

        def report(seconds: float, _total: float, before: float = done) -> None:
            if progress is not None:
                progress(before + seconds, total)

        segments = transcriber.transcribe(
            stream,
            language=language,
            vocabulary=vocabulary,
            progress=report,
        )
        pieces.append((start_s, tuple(segments)))
        done += stream.size / SAMPLE_RATE
    return TrackResult(TrackTranscript(track_id, speaker, tuple(pieces)), tuple(failed))
