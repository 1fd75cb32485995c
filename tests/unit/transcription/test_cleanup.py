"""Segment clean-up: utterances split at pauses, decoding loops dropped."""

from __future__ import annotations

import pytest

from transcription.cleanup import clean_segments, collapse_repeats, drop_loops, split_at_pauses
from transcription.segments import TranscribedSegment, Word


def seg(start: float, end: float, text: str, words: str = "") -> TranscribedSegment:
    """A segment; ``words`` as ``"text@start-end text@start-end"``."""
    parsed = []
    for item in words.split():
        word, times = item.split("@")
        begin, finish = times.split("-")
        parsed.append(Word(float(begin), float(finish), word, 0.9))
    return TranscribedSegment(start, end, text, tuple(parsed), -0.3, 0.05)


def spans(segments: list[TranscribedSegment]) -> list[tuple[float, float, str]]:
    return [(s.start, s.end, s.text) for s in segments]


@pytest.mark.parametrize(
    ("segment", "expected"),
    [
        pytest.param(seg(0, 1, "Dạ"), [(0, 1, "Dạ")], id="no words: unchanged"),
        pytest.param(
            seg(0, 2, "Xin chào", "Xin@0-0.5 chào@0.6-2"), [(0, 2, "Xin chào")], id="no pause"
        ),
        pytest.param(
            seg(0, 3, "Xin chào", "Xin@0-0.5 chào@1.5-3"),
            [(0, 3, "Xin chào")],
            id="pause of exactly 1 s kept together",
        ),
        pytest.param(
            seg(
                10,
                95,
                "Tôi xin trình bày. Vâng, đúng vậy.",
                "Tôi@10-10.3 xin@10.3-10.6 trình@10.6-11 bày.@11-11.4 "
                "Vâng,@90-90.5 đúng@90.6-91 vậy.@91-95",
            ),
            [(10, 11.4, "Tôi xin trình bày."), (90, 95, "Vâng, đúng vậy.")],
            id="words glued across minutes by VAD: split",
        ),
        pytest.param(
            seg(0, 9, "a b c", "a@0-1 b@2.5-3 c@7-9"),
            [(0, 1, "a"), (2.5, 3, "b"), (7, 9, "c")],
            id="several pauses",
        ),
    ],
)
def test_split_at_pauses(
    segment: TranscribedSegment, expected: list[tuple[float, float, str]]
) -> None:
    pieces = split_at_pauses(segment)
    assert spans(pieces) == expected
    assert [w for p in pieces for w in p.words] == list(segment.words)
    assert all(p.avg_logprob == segment.avg_logprob for p in pieces)


@pytest.mark.parametrize(
    ("segments", "expected"),
    [
        pytest.param([], [], id="nothing"),
        pytest.param(
            [
                seg(1.3, 3.42, "Cảm ơn các bạn ạ"),
                seg(3.42, 4.32, "Cảm ơn các bạn ạ"),
                seg(4.32, 4.82, "Cảm ơn các bạn ạ"),
            ],
            [(1.3, 4.82, "Cảm ơn các bạn ạ")],
            id="back-to-back loop collapsed to one",
        ),
        pytest.param(
            [seg(0, 2, "Cái gì không?"), seg(2.3, 4, "cái gì không")],
            [(0, 4, "Cái gì không?")],
            id="case and punctuation ignored",
        ),
        pytest.param(
            [seg(0, 1, "Vâng."), seg(1, 2, "Vâng.")],
            [(0, 1, "Vâng."), (1, 2, "Vâng.")],
            id="short repeats are speech",
        ),
        pytest.param(
            [seg(0, 2, "Tôi không đồng ý"), seg(3, 5, "Tôi không đồng ý")],
            [(0, 2, "Tôi không đồng ý"), (3, 5, "Tôi không đồng ý")],
            id="a repeat after a pause is a person insisting",
        ),
        pytest.param(
            [seg(0, 2, "Tôi không đồng ý"), seg(2, 3, "Dạ"), seg(3, 5, "Tôi không đồng ý")],
            [(0, 2, "Tôi không đồng ý"), (2, 3, "Dạ"), (3, 5, "Tôi không đồng ý")],
            id="only back-to-back repeats",
        ),
    ],
)
def test_drop_loops(
    segments: list[TranscribedSegment], expected: list[tuple[float, float, str]]
) -> None:
    assert spans(drop_loops(segments)) == expected


def test_clean_segments_splits_before_looking_for_loops() -> None:
    glued = seg(
        0,
        60,
        "Ủy ban nhân dân xã. Ủy ban nhân dân xã.",
        "Ủy@0-0.2 ban@0.2-0.4 nhân@0.4-0.6 dân@0.6-0.8 xã.@0.8-1 "
        "Ủy@59-59.2 ban@59.2-59.4 nhân@59.4-59.6 dân@59.6-59.8 xã.@59.8-60",
    )
    assert spans(clean_segments([glued])) == [
        (0, 1, "Ủy ban nhân dân xã."),
        (59, 60, "Ủy ban nhân dân xã."),
    ]


def timed(text: str, start: float = 0.0, step: float = 0.3) -> TranscribedSegment:
    """A segment whose words are ``text``'s, one every ``step`` seconds from ``start``."""
    words = tuple(
        Word(round(start + i * step, 3), round(start + (i + 1) * step, 3), w, 0.5)
        for i, w in enumerate(text.split())
    )
    return TranscribedSegment(start, words[-1].end, text, words, -0.8, 0.3)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("ạ ạ ạ ạ ạ ạ ạ ạ", "ạ", id="one word looping in silence"),
        pytest.param("Ah! Này, Này, Này, Này, Này, Này.", "Ah! Này.", id="kept: the last"),
        pytest.param("Dạ vâng vâng vâng ạ", "Dạ vâng vâng vâng ạ", id="three times: speech"),
        pytest.param(
            "cảm ơn cảm ơn cảm ơn cảm ơn các bạn", "cảm ơn các bạn", id="a two-word phrase"
        ),
        pytest.param(
            "xã Gia Viễn xã Gia Viễn xã Gia Viễn xã Gia Viễn", "xã Gia Viễn", id="three words"
        ),
        pytest.param("Ủy ban nhân dân xã Ủy ban nhân dân huyện", None, id="a repeated name"),
        pytest.param("Không. KHÔNG không, không!", "không!", id="case and punctuation"),
        pytest.param("- - - - - đúng", None, id="punctuation is no word"),
    ],
)
def test_collapse_repeats_keeps_one_of_a_looping_phrase(text: str, expected: str | None) -> None:
    segment = timed(text)
    collapsed = collapse_repeats(segment)
    if expected is None:
        assert collapsed == segment
        return
    assert collapsed.text == expected
    assert [w.text for w in collapsed.words] == expected.split()
    assert (collapsed.start, collapsed.end) == (segment.start, segment.end)


def test_collapse_repeats_leaves_a_segment_without_word_timings() -> None:
    assert collapse_repeats(seg(0, 2, "ạ ạ ạ ạ ạ")) == seg(0, 2, "ạ ạ ạ ạ ạ")


def test_clean_segments_collapses_repeats() -> None:
    assert spans(clean_segments([timed("Này này này này này", start=3.0)])) == [(3.0, 4.5, "này")]
