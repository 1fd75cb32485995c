"""The words the model was unsure of, as spans of the utterance's text, and as the player
shows them."""

from __future__ import annotations

import pytest

from orchestrator.search.snippets import with_unsure_words
from transcription.confidence import unsure_spans
from transcription.merge import Speaker, Utterance
from transcription.segments import Word


def said(text: str, *words: tuple[str, float]) -> Utterance:
    timed = tuple(Word(i * 0.5, i * 0.5 + 0.4, w, p) for i, (w, p) in enumerate(words))
    return Utterance(0.0, len(words) * 0.5, Speaker("A"), text, timed)


@pytest.mark.parametrize(
    ("utterance", "spans"),
    [
        (said("Tôi khiếu nại", ("Tôi", 0.9), ("khiếu", 0.4), ("nại", 0.7)), [(4, 9, 0.4)]),
        # The same word twice: each occurrence where it was said.
        (said("đất và đất", ("đất", 0.9), ("và", 0.8), ("đất", 0.2)), [(7, 10, 0.2)]),
        # A word the text no longer holds (cleaned up) is skipped, the rest still found.
        (said("bồi thường", ("ạ", 0.1), ("bồi", 0.3), ("thường", 0.95)), [(0, 3, 0.3)]),
        (said("", ("ạ", 0.1)), []),
        (said("rõ ràng", ("rõ", 0.99), ("ràng", 0.5)), []),  # 0.5 is not below 0.5
    ],
)
def test_unsure_words_are_found_in_the_text(
    utterance: Utterance, spans: list[tuple[int, int, float]]
) -> None:
    assert unsure_spans(utterance) == spans


def test_the_player_dims_unsure_words_and_escapes_everything() -> None:
    html = with_unsure_words("a <b> c", [[2, 5, 0.25]])
    assert html == ('a <span class="unsure" title="Máy nhận dạng không chắc chắn (25%)">'
                    "&lt;b&gt;</span> c")  # fmt: skip
    # Spans that do not fit the text (overlapping, past its end) are ignored, never a crash.
    assert with_unsure_words("ab", [[0, 1, 0.1], [0, 2, 0.1], [1, 9, 0.1]]).count("unsure") == 1
