"""Merge per-speaker transcripts into one session timeline (pure: no I/O, no model).

The recorder writes each speaker's audio as short segment files, each starting at a known time on
the session clock, with gaps where the speaker was silent or disconnected. Whisper times are
relative to the audio it was given, so every utterance (and every word) is moved by the start of
that audio on the session clock, then all speakers' utterances are interleaved by start time.
Overlapping speech stays as separate utterances: two people talking at once is what happened.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from transcription.segments import TranscribedSegment, Word

TRANSCRIPT_VERSION = 1


@dataclass(frozen=True)
class Speaker:
    """Who spoke on a track.

    Attributes:
        display_name: the name shown to others in the session.
        role: the participant's role (officer, chair, citizen, ...).
        connection_point: the place they joined from (central, a province, a commune).
        identity: the participant's LiveKit identity, stable within the session.
    """

    display_name: str
    role: str = ""
    connection_point: str = ""
    identity: str = ""


@dataclass(frozen=True)
class TrackTranscript:
    """One speaker's recognised speech, in pieces placed on the session clock.

    Attributes:
        track_id: the recording track's id (ties in start time are broken by it).
        speaker: who spoke on this track.
        offset_segments: ``(start_s, segments)`` pairs: ``start_s`` is where a piece of audio
            starts on the session clock, and ``segments`` are timed from the start of that piece.
    """

    track_id: str
    speaker: Speaker
    offset_segments: tuple[tuple[float, tuple[TranscribedSegment, ...]], ...] = ()


@dataclass(frozen=True)
class Utterance:
    """One stretch of one speaker's speech on the session clock.

    Attributes:
        start: seconds since the session clock's origin.
        end: seconds, ``>= start``.
        speaker: who said it.
        text: what was said.
        words: the words, timed on the session clock.
        track_id: the recording track it came from (to play it back in isolation).
    """

    start: float
    end: float
    speaker: Speaker
    text: str
    words: tuple[Word, ...] = ()
    track_id: str = ""


@dataclass(frozen=True)
class Transcript:
    """A whole session's attributed transcript, utterances ordered by start time.

    Attributes:
        language: the language the speech was recognised as (ISO 639-1, e.g. ``vi``).
        utterances: every utterance of every speaker, by start time.
        version: the schema version of this structure (see :mod:`transcription.formats`).
    """

    language: str
    utterances: tuple[Utterance, ...] = ()
    version: int = TRANSCRIPT_VERSION

    @property
    def speakers(self) -> tuple[Speaker, ...]:
        """Every distinct speaker, in order of first utterance."""
        return tuple(dict.fromkeys(u.speaker for u in self.utterances))


def track_utterances(track: TrackTranscript) -> list[Utterance]:
    """One track's utterances moved to the session clock, in the order Whisper gave them.

    Segments whose text is blank are dropped: they carry nothing to read or search.
    """
    return [
        Utterance(
            start=round(offset + segment.start, 3),
            end=round(offset + segment.end, 3),
            speaker=track.speaker,
            text=segment.text.strip(),
            words=tuple(word.shifted(offset) for word in segment.words),
            track_id=track.track_id,
        )
        for offset, segments in track.offset_segments
        for segment in segments
        if segment.text.strip()
    ]


def merge(tracks: Iterable[TrackTranscript], *, language: str) -> Transcript:
    """Every track's utterances on the session clock, interleaved by start time.

    Ties in start time go to the lower track id, then to the order within the track, so the
    result does not depend on the order the tracks are given in.

    Args:
        tracks: each speaker's transcript pieces.
        language: the language the session was transcribed in.

    Returns:
        The session transcript (schema version :data:`TRANSCRIPT_VERSION`).
    """
    return _interleave((track_utterances(track) for track in tracks), language)


def combine(transcripts: Iterable[Transcript], *, language: str) -> Transcript:
    """One session transcript from transcripts already on the session clock (one per track).

    The pipeline stores each track's transcript on its own as soon as it is done; this joins
    them with the same ordering as :func:`merge`.
    """
    return _interleave((t.utterances for t in transcripts), language)


def _interleave(per_track: Iterable[Iterable[Utterance]], language: str) -> Transcript:
    keyed = [
        ((utterance.start, utterance.track_id, index), utterance)
        for utterances in per_track
        for index, utterance in enumerate(utterances)
    ]
    keyed.sort(key=lambda pair: pair[0])
    return Transcript(language=language, utterances=tuple(u for _key, u in keyed))
