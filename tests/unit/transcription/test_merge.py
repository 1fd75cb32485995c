"""Merging per-speaker transcripts onto the session clock: offsets, gaps, overlap, ties."""

from __future__ import annotations

import pytest

from transcription.merge import (
    Speaker,
    TrackTranscript,
    Transcript,
    combine,
    merge,
    track_utterances,
)
from transcription.segments import TranscribedSegment, Word

AN = Speaker("Nguyễn Văn An", "officer", "Ban TCD tỉnh Ninh Bình", "officer-1")
BINH = Speaker("Trần Thị Bình", "citizen", "UBND xã Gia Viễn", "citizen-7")
CHI = Speaker("Lê Chí", "chair", "Ban TCD Trung ương", "chair-2")


def seg(
    start: float, end: float, text: str, *words: tuple[float, float, str]
) -> TranscribedSegment:
    """A segment with optional ``(start, end, text)`` words."""
    return TranscribedSegment(
        start, end, text, tuple(Word(s, e, t, 0.9) for s, e, t in words), -0.2, 0.01
    )


def track(
    track_id: str, speaker: Speaker, *pieces: tuple[float, tuple[TranscribedSegment, ...]]
) -> TrackTranscript:
    return TrackTranscript(track_id, speaker, tuple(pieces))


def timeline(transcript: Transcript) -> list[tuple[float, float, str, str]]:
    """What a reader sees: (start, end, speaker, text) in order."""
    return [(u.start, u.end, u.speaker.display_name, u.text) for u in transcript.utterances]


@pytest.mark.parametrize(
    ("tracks", "expected"),
    [
        pytest.param([], [], id="no tracks"),
        pytest.param([track("TR_a", AN)], [], id="empty track"),
        pytest.param([track("TR_a", AN, (0.0, ()), (30.0, ()))], [], id="pieces without speech"),
        pytest.param(
            [track("TR_a", AN, (12.5, (seg(0.0, 2.0, "Xin chào"), seg(3.0, 4.5, "ông Bình"))))],
            [(12.5, 14.5, AN.display_name, "Xin chào"), (15.5, 17.0, AN.display_name, "ông Bình")],
            id="offset added to every segment",
        ),
        pytest.param(
            [
                track(
                    "TR_a",
                    AN,
                    (0.0, (seg(1.0, 9.0, "Phần một"),)),
                    # 50 s of silence, not recorded: the next piece starts later on the clock.
                    (60.0, (seg(0.5, 4.0, "Phần hai"),)),
                )
            ],
            [(1.0, 9.0, AN.display_name, "Phần một"), (60.5, 64.0, AN.display_name, "Phần hai")],
            id="gap between pieces",
        ),
        pytest.param(
            [
                track("TR_b", BINH, (5.0, (seg(0.0, 3.0, "Tôi xin trình bày"),))),
                track("TR_a", AN, (0.0, (seg(0.5, 2.0, "Mời bà"), seg(7.0, 9.0, "Vâng")))),
            ],
            [
                (0.5, 2.0, AN.display_name, "Mời bà"),
                (5.0, 8.0, BINH.display_name, "Tôi xin trình bày"),
                (7.0, 9.0, AN.display_name, "Vâng"),
            ],
            id="interleaved, overlap kept as separate utterances",
        ),
        pytest.param(
            [
                track("TR_c", CHI, (10.0, (seg(0.0, 1.0, "Chủ trì"),))),
                track("TR_a", AN, (9.0, (seg(1.0, 3.0, "Cán bộ"),))),
                track("TR_b", BINH, (10.0, (seg(0.0, 2.0, "Công dân"),))),
            ],
            [
                (10.0, 12.0, AN.display_name, "Cán bộ"),
                (10.0, 12.0, BINH.display_name, "Công dân"),
                (10.0, 11.0, CHI.display_name, "Chủ trì"),
            ],
            id="same start: tie broken by track id, not input order",
        ),
        pytest.param(
            [track("TR_a", AN, (0.0, (seg(0.0, 1.0, "  "), seg(1.0, 2.0, " Dạ "))))],
            [(1.0, 2.0, AN.display_name, "Dạ")],
            id="blank segments dropped, text trimmed",
        ),
        pytest.param(
            [track("TR_a", AN, (0.1, (seg(0.2, 0.3, "Ừ"),)))],
            [(0.3, 0.4, AN.display_name, "Ừ")],
            id="times rounded to the millisecond",
        ),
    ],
)
def test_merge_timeline(
    tracks: list[TrackTranscript], expected: list[tuple[float, float, str, str]]
) -> None:
    transcript = merge(tracks, language="vi")
    assert timeline(transcript) == expected
    assert transcript.version == 1
    assert transcript.language == "vi"


@pytest.mark.parametrize(
    ("offset", "words", "expected"),
    [
        pytest.param(0.0, [(0.0, 0.4, "Xin"), (0.4, 0.9, "chào")], [(0.0, 0.4), (0.4, 0.9)]),
        pytest.param(
            125.25, [(0.0, 0.4, "Xin"), (0.4, 0.9, "chào")], [(125.25, 125.65), (125.65, 126.15)]
        ),
    ],
)
def test_word_timings_move_with_their_utterance(
    offset: float, words: list[tuple[float, float, str]], expected: list[tuple[float, float]]
) -> None:
    (utterance,) = merge(
        [track("TR_a", AN, (offset, (seg(0.0, 0.9, "Xin chào", *words),)))], language="vi"
    ).utterances
    assert [(w.start, w.end) for w in utterance.words] == expected
    assert [w.text for w in utterance.words] == ["Xin", "chào"]
    assert all(w.probability == 0.9 for w in utterance.words)


def test_speaker_and_track_are_kept() -> None:
    (utterance,) = track_utterances(track("TR_b", BINH, (3.0, (seg(0.0, 1.0, "Dạ"),))))
    assert utterance.speaker == BINH
    assert utterance.track_id == "TR_b"


def test_speakers_listed_in_order_of_first_utterance() -> None:
    transcript = merge(
        [
            track("TR_a", AN, (4.0, (seg(0.0, 1.0, "Một"),)), (9.0, (seg(0.0, 1.0, "Ba"),))),
            track("TR_b", BINH, (1.0, (seg(0.0, 1.0, "Hai"),))),
        ],
        language="vi",
    )
    assert transcript.speakers == (BINH, AN)


def test_merge_does_not_depend_on_track_order() -> None:
    tracks = [
        track("TR_a", AN, (0.0, (seg(0.0, 1.0, "A1"), seg(5.0, 6.0, "A2")))),
        track("TR_b", BINH, (0.0, (seg(0.0, 1.0, "B1"), seg(2.0, 3.0, "B2")))),
        track("TR_c", CHI, (5.0, (seg(0.0, 1.0, "C1"),))),
    ]
    assert merge(tracks, language="vi") == merge(list(reversed(tracks)), language="vi")


def test_combining_per_track_transcripts_equals_merging_the_tracks() -> None:
    tracks = [
        track("TR_b", BINH, (10.0, (seg(0.0, 2.0, "Tôi xin trình bày."),))),
        track("TR_a", AN, (0.0, (seg(1.0, 3.0, "Mời bà."),)), (10.0, (seg(0.0, 1.0, "Vâng."),))),
        track("TR_c", CHI, (5.0, (seg(0.5, 9.0, "Chủ trì nói."),))),
    ]
    per_track = [merge([t], language="vi") for t in tracks]
    assert combine(reversed(per_track), language="vi") == merge(tracks, language="vi")
