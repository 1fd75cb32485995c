"""Relevance over the newest matches: BM25 with those matches as the collection."""

from __future__ import annotations

from orchestrator.search.query import parse_query
from orchestrator.search.ranking import scores

FILLER = "toi xin trinh bay viec cua gia dinh"


def test_saying_it_more_often_ranks_higher_and_saturates() -> None:
    once, twice, thrice = scores(parse_query("dat"), [
        f"dat {FILLER} xa", f"dat {FILLER} dat", f"dat dat dat {FILLER}",
    ])  # fmt: skip
    assert once < twice < thrice
    assert thrice - twice < twice - once


def test_a_short_utterance_ranks_above_a_long_one_saying_it_as_often() -> None:
    short, long = scores(parse_query("dat"), [f"dat {FILLER}", f"dat {FILLER} {FILLER} {FILLER}"])
    assert short > long


def test_a_term_few_matches_hold_weighs_more() -> None:
    texts = [f"dat {FILLER}"] * 8 + [f"nha {FILLER}"]
    ranked = scores(parse_query("dat OR nha"), texts)
    assert ranked[-1] > ranked[0]


def test_phrases_count_only_in_a_row_and_prefixes_only_at_a_word_start() -> None:
    phrase = scores(parse_query('"thu hoi dat"'), ["thu hoi dat", "thu dat hoi", "thu hoi dat"])
    assert phrase[0] == phrase[2] > 0 and phrase[1] == 0
    prefix = scores(parse_query("boi*"), ["boi thuong", "xboi", "boithuong", "thuong"])
    assert prefix[0] > 0 and prefix[2] > 0 and prefix[1] == 0 and prefix[3] == 0


def test_nothing_to_rank() -> None:
    assert scores(parse_query("dat"), []) == []
