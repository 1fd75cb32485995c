"""Transcript outputs: WebVTT structure and escaping, SRT numbering and timing, JSON round trip.

The WebVTT checks are a strict structural reading of the format written here, because no WebVTT
parser is installed; with ``webvtt-py`` in the dev extra, parse with it as well.
"""

from __future__ import annotations

import json
import re

import pytest

from transcription.errors import TranscriptFormatError
from transcription.formats import FORMATS, from_json, to_json, to_srt, to_text, to_vtt
from transcription.merge import Speaker, Transcript, Utterance
from transcription.segments import Word

AN = Speaker("Nguyễn Văn An", "officer", "Ban TCD tỉnh Ninh Bình", "officer-1")
BINH = Speaker("Trần Thị Bình", "citizen", "UBND xã Gia Viễn", "citizen-7")
ODD = Speaker("A <b> & Co -->\nX", "citizen", "", "odd")

TRANSCRIPT = Transcript(
    language="vi",
    utterances=(
        Utterance(
            0.5,
            2.25,
            AN,
            "Xin mời bà trình bày.",
            (Word(0.5, 0.8, "Xin", 0.91), Word(0.8, 1.1, "mời", 0.88)),
            "TR_a",
        ),
        Utterance(2.0, 3661.042, BINH, "Tôi khiếu nại về đất đai.", (), "TR_b"),
        Utterance(3700.0, 3701.0, ODD, "x < y && a --> b\n\nnext", (), "TR_c"),
    ),
)

TIMING = re.compile(
    r"^(\d{2,}):([0-5]\d):([0-5]\d)\.(\d{3}) --> (\d{2,}):([0-5]\d):([0-5]\d)\.(\d{3})$"
)
CUE_TEXT = re.compile(r"^<v ([^>\n]+)>([^\n]*)</v>$")
# After '&', only these references are written; anything else would be a stray '&'.
REFERENCES = re.compile(r"&(?!(amp|lt|gt);)")


def _seconds(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def parse_vtt(text: str) -> list[tuple[float, float, str, str]]:
    """(start, end, voice, text) per cue, asserting the structure WebVTT requires."""
    assert text.startswith("WEBVTT\n\n") or text == "WEBVTT\n", "header"
    assert "\r" not in text
    blocks = text.rstrip("\n").split("\n\n")
    assert blocks[0] == "WEBVTT"
    cues = []
    for number, block in enumerate(blocks[1:], start=1):
        identifier, timing, payload, *rest = block.split("\n")
        assert not rest, f"cue {number} has more than one text line: {block!r}"
        assert identifier == str(number)
        assert "-->" not in identifier
        match = TIMING.match(timing)
        assert match, timing
        start, end = _seconds(*match.groups()[:4]), _seconds(*match.groups()[4:])
        assert end >= start
        cue = CUE_TEXT.match(payload)
        assert cue, payload
        voice, body = cue.groups()
        for part in (voice, body):
            assert "-->" not in part and "<" not in part and ">" not in part
            assert not REFERENCES.search(part), part
        cues.append((start, end, _unescape(voice), _unescape(body)))
    return cues


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def test_vtt_has_one_voice_cue_per_utterance() -> None:
    cues = parse_vtt(to_vtt(TRANSCRIPT))
    assert cues == [
        (0.5, 2.25, "Nguyễn Văn An", "Xin mời bà trình bày."),
        (2.0, 3661.042, "Trần Thị Bình", "Tôi khiếu nại về đất đai."),
        (3700.0, 3701.0, "A <b> & Co --> X", "x < y && a --> b next"),
    ]


def test_vtt_times_are_hours_minutes_seconds_millis() -> None:
    assert "00:00:02.000 --> 01:01:01.042" in to_vtt(TRANSCRIPT)


def test_vtt_of_an_empty_transcript_is_just_the_header() -> None:
    text = to_vtt(Transcript(language="vi"))
    assert text == "WEBVTT\n"
    assert parse_vtt(text) == []


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0.0, "00:00:00,000"),
        (0.0004, "00:00:00,000"),
        (0.0006, "00:00:00,001"),
        (59.9999, "00:01:00,000"),
        (3599.5, "00:59:59,500"),
        (360000.0, "100:00:00,000"),
    ],
)
def test_srt_timing(seconds: float, expected: str) -> None:
    transcript = Transcript("vi", (Utterance(seconds, seconds, AN, "Dạ", (), "TR_a"),))
    assert to_srt(transcript).split("\n")[1] == f"{expected} --> {expected}"


def test_srt_cues_are_numbered_and_prefixed_with_the_speaker() -> None:
    blocks = to_srt(TRANSCRIPT).rstrip("\n").split("\n\n")
    assert [b.split("\n")[0] for b in blocks] == ["1", "2", "3"]
    assert blocks[0].split("\n")[1:] == [
        "00:00:00,500 --> 00:00:02,250",
        "Nguyễn Văn An: Xin mời bà trình bày.",
    ]
    assert blocks[2].split("\n")[2] == "A <b> & Co --> X: x < y && a --> b next"
    assert to_srt(Transcript("vi")) == ""


def test_text_lines() -> None:
    assert to_text(TRANSCRIPT).splitlines() == [
        "[00:00:00] Nguyễn Văn An: Xin mời bà trình bày.",
        "[00:00:02] Trần Thị Bình: Tôi khiếu nại về đất đai.",
        "[01:01:40] A <b> & Co --> X: x < y && a --> b next",
    ]


def test_json_round_trip() -> None:
    text = to_json(TRANSCRIPT)
    assert from_json(text) == TRANSCRIPT
    document = json.loads(text)
    assert document["version"] == 1
    assert document["language"] == "vi"
    assert document["utterances"][0]["speaker"] == {
        "display_name": "Nguyễn Văn An",
        "role": "officer",
        "connection_point": "Ban TCD tỉnh Ninh Bình",
        "identity": "officer-1",
    }
    assert document["utterances"][0]["words"][1] == {
        "start": 0.8,
        "end": 1.1,
        "text": "mời",
        "probability": 0.88,
    }
    assert "Nguyễn" in text  # written as UTF-8 text, not \u escapes


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"version": 2, "language": "vi", "utterances": []}',
        '{"version": 1, "utterances": []}',
        '{"version": 1, "language": "vi", "utterances": [{"start": 1}]}',
    ],
)
def test_json_rejects_what_it_cannot_read(text: str) -> None:
    with pytest.raises(TranscriptFormatError):
        from_json(text)


def test_every_format_has_an_extension_and_a_renderer() -> None:
    assert {name: ext for name, (ext, _render) in FORMATS.items()} == {
        "json": ".json",
        "vtt": ".vtt",
        "srt": ".srt",
        "txt": ".txt",
    }
    for _ext, render in FORMATS.values():
        assert render(TRANSCRIPT).endswith("\n")
