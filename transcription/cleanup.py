"""Clean-up of recognised segments before they are stored (pure: segments in, segments out).

- :func:`split_at_pauses`: with VAD on, faster-whisper glues a speaker's speech chunks together
  before decoding, so one segment can hold words said minutes apart (with other speakers talking
  in between on their own tracks). Merged by start time, such a segment puts words out of order:
  on a synthetic 10-minute 4-speaker session the merged per-speaker transcript scored WER 0.19
  without the split and 0.09 with it (plain Whisper on the mixed file: 0.06). Splitting wherever
  the speaker paused longer than
  :data:`PAUSE_SPLIT_S` restores the order (VAD only joins chunks after 2 s of silence, less its
  0.4 s padding on either side, so every glued boundary is such a pause).
- :func:`drop_loops`: Whisper sometimes falls into a loop, emitting the same sentence again and
  again in back-to-back segments (``"Cảm ơn các bạn ạ"`` three times over 3.5 s of unrelated
  speech). A sentence of three words or more repeated with no pause is such a loop, not a person
  repeating themselves; the repeats are dropped.
- :func:`collapse_repeats`: the other known loop, inside one segment: a word or short phrase
  emitted over and over, typically in silence or noise before speech (a Common Voice clip after
  25 s of faint noise: "Ah! Này, Này, Này, Này, Này, Này."; "ạ ạ ạ ..." in a silent track). A
  word or phrase of up to :data:`REPEAT_MAX_WORDS` words said :data:`REPEAT_MIN_RUN` times or
  more back to back is kept once. People do say "vâng vâng vâng", so three is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final

from transcription.segments import TranscribedSegment, Word

PAUSE_SPLIT_S: Final = 1.0
"""A silence between two words longer than this ends an utterance."""

LOOP_MAX_GAP_S: Final = 0.5
"""A repeat that starts at most this long after its original ends is a decoding loop."""

LOOP_MIN_WORDS: Final = 3
"""Shorter repeats ("Vâng. Vâng.") are kept: people do say those twice."""


REPEAT_MIN_RUN: Final = 4
"""This many back-to-back repeats of a word or short phrase is a decoding loop."""

REPEAT_MAX_WORDS: Final = 3
"""The longest phrase :func:`collapse_repeats` looks for (longer ones: :func:`drop_loops`)."""


def _text(words: Sequence[Word]) -> str:
    return " ".join(w.text for w in words if w.text)


def split_at_pauses(
    segment: TranscribedSegment, pause_s: float = PAUSE_SPLIT_S
) -> list[TranscribedSegment]:
    """``segment`` cut wherever its words are more than ``pause_s`` apart.

    A segment without word timings is returned as it is.
    """
    words = segment.words
    groups: list[list[Word]] = []
    for word in words:
        if groups and word.start - groups[-1][-1].end <= pause_s:
            groups[-1].append(word)
        else:
            groups.append([word])
    if len(groups) <= 1:
        return [segment]
    return [
        TranscribedSegment(
            start=group[0].start,
            end=group[-1].end,
            text=_text(group),
            words=tuple(group),
            avg_logprob=segment.avg_logprob,
            no_speech_prob=segment.no_speech_prob,
        )
        for group in groups
    ]


def _key(text: str) -> tuple[str, ...]:
    return tuple(re.findall(r"\w+", text.casefold()))


def _run_length(keys: Sequence[tuple[str, ...]], at: int, size: int) -> int:
    """How many times the ``size`` words at ``at`` repeat back to back from there."""
    phrase = keys[at : at + size]
    if len(phrase) < size or not all(phrase):
        return 0
    run = 1
    while keys[at + run * size : at + (run + 1) * size] == phrase:
        run += 1
    return run


def collapse_repeats(
    segment: TranscribedSegment,
    min_run: int = REPEAT_MIN_RUN,
    max_words: int = REPEAT_MAX_WORDS,
) -> TranscribedSegment:
    """``segment`` with each run of ``min_run`` or more back-to-back repeats of a phrase of up
    to ``max_words`` words cut to its last occurrence (which carries the closing punctuation).

    A segment without word timings is returned as it is.
    """
    words = segment.words
    keys = [_key(w.text) for w in words]
    kept: list[Word] = []
    at = 0
    while at < len(words):
        size, run = next(
            ((size, run) for size in range(1, max_words + 1)
             if (run := _run_length(keys, at, size)) >= min_run),
            (1, 1),
        )  # fmt: skip
        kept.extend(words[at + (run - 1) * size : at + run * size])
        at += run * size
    if len(kept) == len(words):
        return segment
    return TranscribedSegment(
        segment.start,
        segment.end,
        _text(kept),
        tuple(kept),
        segment.avg_logprob,
        segment.no_speech_prob,
    )


def drop_loops(segments: Iterable[TranscribedSegment]) -> list[TranscribedSegment]:
    """``segments`` without back-to-back repeats of a sentence of three words or more."""
    kept: list[TranscribedSegment] = []
    for segment in segments:
        if kept:
            previous = kept[-1]
            key = _key(segment.text)
            if (
                len(key) >= LOOP_MIN_WORDS
                and key == _key(previous.text)
                and segment.start - previous.end <= LOOP_MAX_GAP_S
            ):
                # Keep the repeat's end so the utterance still covers the audio it came from.
                kept[-1] = TranscribedSegment(
                    previous.start,
                    max(previous.end, segment.end),
                    previous.text,
                    previous.words,
                    previous.avg_logprob,
                    previous.no_speech_prob,
                )
                continue
        kept.append(segment)
    return kept


def clean_segments(
    segments: Iterable[TranscribedSegment], pause_s: float = PAUSE_SPLIT_S
) -> list[TranscribedSegment]:
    """Split at pauses, collapse repeated words, then drop repeated sentences: what the
    pipeline stores."""
    return drop_loops(
        collapse_repeats(piece)
        for segment in segments
        for piece in split_at_pauses(segment, pause_s)
    )
