"""Write a session transcript as JSON, WebVTT, SRT and plain text (pure: strings in, strings out).

``transcript.json`` schema, version 1 (UTF-8; times in seconds on the session clock, to the
millisecond)::

    {
      "version": 1,                  # bumped on any incompatible change
      "language": "vi",              # ISO 639-1 code the speech was recognised as
      "utterances": [                # ordered by start, then track id
        {
          "start": 12.34,            # seconds since the session clock's origin
          "end": 15.0,
          "speaker": {
            "display_name": "Nguyễn Văn A",
            "role": "citizen",       # officer, chair, citizen, ... ("" when unknown)
            "connection_point": "UBND xã Gia Viễn",
            "identity": "citizen-42" # LiveKit participant identity
          },
          "track_id": "TR_abc",      # recording track the utterance came from
          "text": "Tôi xin trình bày ...",
          "words": [                 # may be empty
            {"start": 12.34, "end": 12.5, "text": "Tôi", "probability": 0.93}
          ]
        }
      ]
    }

WebVTT cues carry the speaker as a voice span (``<v Nguyễn Văn A>text</v>``), SRT cues and text
lines prefix the speaker's name. Overlapping utterances stay overlapping cues: both formats allow
it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from transcription.errors import TranscriptFormatError
from transcription.merge import TRANSCRIPT_VERSION, Speaker, Transcript, Utterance
from transcription.segments import Word


def _clock(seconds: float, fraction_sep: str | None) -> str:
    """``HH:MM:SS`` plus ``{sep}mmm`` when a separator is given; hours grow past 99 if need be."""
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return clock if fraction_sep is None else f"{clock}{fraction_sep}{millis:03d}"


def _one_line(text: str) -> str:
    # A blank line ends a cue in both WebVTT and SRT, so cue text is kept on one line.
    return " ".join(text.split())


def _vtt_escape(text: str) -> str:
    # WebVTT cue text is markup: '&' and '<' start references and tags, and escaping '>' also
    # keeps a literal "-->" out of the payload, where the spec forbids it.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(transcript: Transcript) -> str:
    """The transcript as WebVTT, one cue per utterance, the speaker as a ``<v>`` voice span."""
    blocks = ["WEBVTT"]
    for number, u in enumerate(transcript.utterances, start=1):
        voice = _vtt_escape(_one_line(u.speaker.display_name)) or "?"
        blocks.append(
            f"{number}\n{_clock(u.start, '.')} --> {_clock(u.end, '.')}\n"
            f"<v {voice}>{_vtt_escape(_one_line(u.text))}</v>"
        )
    return "\n\n".join(blocks) + "\n"


def to_srt(transcript: Transcript) -> str:
    """The transcript as SubRip: numbered cues, each line prefixed with the speaker's name."""
    blocks = [
        f"{number}\n{_clock(u.start, ',')} --> {_clock(u.end, ',')}\n"
        f"{_one_line(u.speaker.display_name)}: {_one_line(u.text)}"
        for number, u in enumerate(transcript.utterances, start=1)
    ]
    return "\n\n".join(blocks) + "\n" if blocks else ""


def to_text(transcript: Transcript) -> str:
    """The transcript as plain text: one ``[HH:MM:SS] Speaker: text`` line per utterance."""
    return "".join(
        f"[{_clock(u.start, None)}] {_one_line(u.speaker.display_name)}: {_one_line(u.text)}\n"
        for u in transcript.utterances
    )


def to_json(transcript: Transcript) -> str:
    """The transcript as ``transcript.json`` (the schema in this module's docstring)."""
    document = {
        "version": transcript.version,
        "language": transcript.language,
        "utterances": [
            {
                "start": u.start,
                "end": u.end,
                "speaker": {
                    "display_name": u.speaker.display_name,
                    "role": u.speaker.role,
                    "connection_point": u.speaker.connection_point,
                    "identity": u.speaker.identity,
                },
                "track_id": u.track_id,
                "text": u.text,
                "words": [
                    {"start": w.start, "end": w.end, "text": w.text, "probability": w.probability}
                    for w in u.words
                ],
            }
            for u in transcript.utterances
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=1) + "\n"


def from_json(text: str) -> Transcript:
    """Read ``transcript.json`` back.

    Raises:
        TranscriptFormatError: the text is not JSON of this schema, or of another version.
    """
    try:
        document: dict[str, Any] = json.loads(text)
        if document.get("version") != TRANSCRIPT_VERSION:
            raise TranscriptFormatError(
                f"transcript schema version {document.get('version')!r} is not "
                f"{TRANSCRIPT_VERSION}, the one this code reads"
            )
        return Transcript(
            version=TRANSCRIPT_VERSION,
            language=str(document["language"]),
            utterances=tuple(
                Utterance(
                    start=float(u["start"]),
                    end=float(u["end"]),
                    speaker=Speaker(**u["speaker"]),
                    text=str(u["text"]),
                    words=tuple(Word(**w) for w in u["words"]),
                    track_id=str(u["track_id"]),
                )
                for u in document["utterances"]
            ),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise TranscriptFormatError(f"not a transcript.json document: {e}") from e


FORMATS: dict[str, tuple[str, Callable[[Transcript], str]]] = {
    "json": (".json", to_json),
    "vtt": (".vtt", to_vtt),
    "srt": (".srt", to_srt),
    "txt": (".txt", to_text),
}
"""Each output format's name, with its file extension and the function that renders it."""
