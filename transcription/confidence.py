"""Where the model was unsure (pure): the words of an utterance whose probability is low, as
character spans of its text, so a reader of the transcript sees which words to check against
the recording."""

from __future__ import annotations

from typing import Final

from transcription.merge import Utterance

__all__ = ["UNSURE_BELOW", "unsure_spans"]

UNSURE_BELOW: Final = 0.5
"""A word the model gave less than this probability is shown as uncertain."""


def unsure_spans(utterance: Utterance, below: float = UNSURE_BELOW) -> list[tuple[int, int, float]]:
    """``(start, end, probability)`` of each word of ``utterance`` below ``below``, as character
    offsets into ``utterance.text``; words are found in order, and one the text does not hold
    (cleaned up after recognition) is skipped."""
    spans: list[tuple[int, int, float]] = []
    position = 0
    for word in utterance.words:
        text = word.text.strip()
        if not text:
            continue
        start = utterance.text.find(text, position)
        if start < 0:
            continue
        position = start + len(text)
        if word.probability < below:
            spans.append((start, position, round(word.probability, 3)))
    return spans
