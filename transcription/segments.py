"""What the speech recogniser hands back: timed segments of text with their timed words.

Plain frozen data, free of faster-whisper, so the pure modules (merge, formats) and their tests
use it without loading the model's libraries.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Word:
    """One recognised word.

    Attributes:
        start: seconds from the start of the audio it was recognised in.
        end: seconds, ``>= start``.
        text: the word as written, with the leading space Whisper gives it stripped.
        probability: the model's confidence in the word, 0..1.
    """

    start: float
    end: float
    text: str
    probability: float

    def shifted(self, offset_s: float) -> Word:
        """The same word, ``offset_s`` seconds later (times rounded to the millisecond)."""
        return Word(
            start=round(self.start + offset_s, 3),
            end=round(self.end + offset_s, 3),
            text=self.text,
            probability=self.probability,
        )


@dataclass(frozen=True)
class TranscribedSegment:
    """One stretch of speech as Whisper segmented it.

    Attributes:
        start: seconds from the start of the audio it was recognised in.
        end: seconds, ``>= start``.
        text: the recognised text, trimmed and in Unicode NFC.
        words: the words with their own timings (empty when word timestamps were off).
        avg_logprob: mean log probability of the segment's tokens (closer to 0: more confident).
        no_speech_prob: the model's probability that the segment holds no speech.
    """

    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
