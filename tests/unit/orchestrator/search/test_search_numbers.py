"""Numbers in words and in digits read as one value (orchestrator.search.numbers), and what the
index, the query parser and the highlighter make of them."""

from __future__ import annotations

import pytest

from orchestrator.search.numbers import (
    FORMS_SEPARATOR,
    canonical_tokens,
    indexed_tokens,
    spoken_numbers,
)
from orchestrator.search.query import parse_query, to_fts5, to_tsquery
from orchestrator.search.snippets import highlight


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("hai trăm triệu đồng", [("hai trăm triệu", "200000000")]),
        ("200 triệu", [("200 triệu", "200000000")]),
        ("200.000.000 đồng", [("200.000.000", "200000000")]),
        ("200,000 dollars", [("200,000", "200000")]),
        ("1,5 tỷ", [("1,5 tỷ", "1500000000")]),
        ("ba mươi ngày", [("ba mươi", "30")]),
        ("30 ngày", [("30", "30")]),
        ("mười lăm", [("mười lăm", "15")]),
        ("mười một giờ", [("mười một", "11")]),
        ("hai mươi mốt", [("hai mươi mốt", "21")]),
        ("hai mươi tư", [("hai mươi tư", "24")]),
        ("hai mươi lăm", [("hai mươi lăm", "25")]),
        ("hai chục", [("hai chục", "20")]),
        ("một trăm năm mươi", [("một trăm năm mươi", "150")]),
        ("một trăm mười", [("một trăm mười", "110")]),
        ("một trăm linh năm", [("một trăm linh năm", "105")]),
        ("hai nghìn năm trăm", [("hai nghìn năm trăm", "2500")]),
        ("hai tỷ ba trăm triệu", [("hai tỷ ba trăm triệu", "2300000000")]),
        ("2 tỷ 300 triệu", [("2 tỷ 300 triệu", "2300000000")]),
        ("hai triệu rưỡi", [("hai triệu rưỡi", "2500000")]),
        ("chín trăm chín mươi chín nghìn", [("chín trăm chín mươi chín nghìn", "999000")]),
        ("ba ngày", [("ba", "3")]),
        ("mười năm", [("mười", "10")]),
        # Words that mean something else far more often than a number.
        ("một người", []),
        ("năm nay", []),
        ("hai bên", []),
        ("Việt Nam", []),
        ("không đồng ý", []),
        ("sau tháng ba", []),
        # ``năm`` after tens or hundreds is years; after a scale, the rest of the number.
        ("hai mươi năm", [("hai mươi", "20")]),
        ("một trăm năm", [("một trăm", "100")]),
        ("hai nghìn năm", [("hai nghìn", "2000")]),
        # Separate numbers stay separate.
        ("năm 2024, 300 người", [("2024", "2024"), ("300", "300")]),
        ("điều 12, 345 người", [("12", "12"), ("345", "345")]),
        ("hai triệu ba triệu", [("hai triệu", "2000000"), ("ba triệu", "3000000")]),
    ],
)
def test_numbers_are_read_as_said(text: str, numbers: list[tuple[str, str]]) -> None:
    found = spoken_numbers(text)
    assert [(text[n.start : n.end], n.digits) for n in found] == numbers


@pytest.mark.parametrize(
    ("typed", "values"),
    [
        ("hai tram trieu", ["200000000"]),
        ("ba muoi ngay", ["30", "ngay"]),
        ("muoi lam", ["15"]),
        ("hai muoi tu", ["24"]),
        ("viet nam", None),
        ("khieu nai", None),
    ],
)
def test_a_query_typed_without_diacritics_is_read_loosely(
    typed: str, values: list[str] | None
) -> None:
    assert canonical_tokens(typed, exact=False, loose=True) == values
    assert canonical_tokens(typed, exact=False) is None  # an utterance is read as written


def test_the_index_holds_the_words_and_then_their_value_form() -> None:
    assert indexed_tokens("Bồi thường hai trăm triệu đồng", exact=False) == (
        f"boi thuong hai tram trieu dong {FORMS_SEPARATOR} boi thuong 200000000 dong"
    )
    assert indexed_tokens("Bồi thường 200 triệu", exact=True) == (
        f"bồi thường 200 triệu {FORMS_SEPARATOR} bồi thường 200000000"
    )
    # Nothing said as a number, or only plain digits: the words alone.
    assert indexed_tokens("Trong 30 ngày, khiếu nại", exact=False) == "trong 30 ngay khieu nai"


@pytest.mark.parametrize(
    ("typed", "fts5"),
    [
        ("200 triệu", 'text_folded : (("200 trieu" OR "200000000"))'),
        ("bồi thường hai trăm triệu", 'text_folded : ("boi" AND "thuong" AND '
                                      '("hai tram trieu" OR "200000000"))'),
        ('"bồi thường 200 triệu"', 'text_folded : (("boi thuong 200 trieu" OR '
                                   '"boi thuong 200000000"))'),
        ("30 ngày", 'text_folded : ("30" AND "ngay")'),
        ("ba mươi ngày", 'text_folded : (("ba muoi" OR "30") AND "ngay")'),
        (f"{FORMS_SEPARATOR} đất", 'text_folded : ("dat")'),
    ],
)  # fmt: skip
def test_a_query_searches_what_was_typed_or_its_value_form(typed: str, fts5: str) -> None:
    assert to_fts5(parse_query(typed)) == fts5


def test_postgresql_gets_the_same_alternatives() -> None:
    assert to_tsquery(parse_query("200 triệu đất")) == "(('200' <-> 'trieu') | '200000000') & 'dat'"


@pytest.mark.parametrize(
    ("text", "typed", "marked"),
    [
        ("Yêu cầu bồi thường hai trăm triệu đồng.", "200 triệu",
         "Yêu cầu bồi thường <mark>hai</mark> <mark>trăm</mark> <mark>triệu</mark> đồng."),
        ("Trả lời trong 30 ngày.", "ba mươi ngày",
         "Trả lời trong <mark>30</mark> <mark>ngày</mark>."),
    ],
)  # fmt: skip
def test_the_number_is_highlighted_in_the_form_it_was_said(
    text: str, typed: str, marked: str
) -> None:
    assert highlight(text, parse_query(typed)) == marked
