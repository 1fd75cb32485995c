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
    """Split at pauses, then drop loops: what the pipeline stores."""
    return drop_loops(piece for segment in segments for piece in split_at_pauses(segment, pause_s))
