"""Archive search, pure parts: Vietnamese folding, the query language, snippets, the scope."""

from __future__ import annotations

import itertools

import pytest

from orchestrator.core.errors import Forbidden
from orchestrator.core.permissions import Action, Actor, SessionScope, can
from orchestrator.core.vocabulary import Role, Tier
from orchestrator.search.folding import exact_tokens, fold, folded_tokens, token_spans
from orchestrator.search.query import (
    MAX_QUERY_CHARS,
    Clause,
    QueryError,
    Term,
    parse_query,
    to_fts5,
    to_tsquery,
)
from orchestrator.search.service import archive_scope
from orchestrator.search.snippets import highlight


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Khiếu nại", "khieu nai"),
        ("Đà Nẵng", "da nang"),
        ("đường ĐÊ", "duong de"),
        ("Thừa Thiên Huế", "thua thien hue"),
        ("Nguyễn Thị Ngọc Ánh", "nguyen thi ngoc anh"),
        ("da nang", "da nang"),
        # Decomposed input (NFD) folds the same as precomposed.
        ("Đa\u0300 Na\u0306\u0303ng", "da nang"),
    ],
)
def test_fold_removes_diacritics_and_d_stroke(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_folding_keeps_positions_for_highlighting() -> None:
    text = "Ông Đặng Văn Đức, xã Gia Viễn"
    assert len(fold(text)) == len(text)
    assert [(s, e) for s, e, _f, _x in token_spans(text)] == [
        (0, 3), (4, 8), (9, 12), (13, 16), (18, 20), (21, 24), (25, 29)
    ]  # fmt: skip


def test_tokens_split_on_punctuation_and_underscore() -> None:
    assert folded_tokens("khiếu-nại; (tố_cáo) 1.000") == ["khieu", "nai", "to", "cao", "1", "000"]
    assert exact_tokens("Khiếu-NẠI") == ["khiếu", "nại"]


def test_words_are_all_required_and_folded() -> None:
    q = parse_query("Khiếu nại")
    assert q.clauses == (Clause((Term(("khieu",)),)), Clause((Term(("nai",)),)))
    assert to_fts5(q) == 'text_folded : ("khieu" AND "nai")'
    assert to_tsquery(q) == "'khieu' & 'nai'"


def test_exact_mode_keeps_diacritics() -> None:
    q = parse_query("Đà Nẵng", exact=True)
    assert to_fts5(q) == 'text_exact : ("đà" AND "nẵng")'
    assert to_tsquery(q) == "'đà' & 'nẵng'"


def test_phrase_prefix_or_not() -> None:
    q = parse_query('"thu hồi đất" OR nhà* NOT "tố cáo"')
    assert to_fts5(q) == 'text_folded : ((("thu hoi dat" OR "nha"*)) NOT "to cao")'
    assert to_tsquery(q) == "(('thu' <-> 'hoi' <-> 'dat') | 'nha':*) & !('to' <-> 'cao')"


def test_hyphenated_word_is_a_phrase() -> None:
    assert parse_query("khiếu-nại").clauses == (Clause((Term(("khieu", "nai")),)),)


def test_lower_case_operators_are_words() -> None:
    assert [c.alternatives[0].tokens for c in parse_query("đất or nhà").clauses] == [
        ("dat",), ("or",), ("nha",)
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "fts5"),
    [
        ("OR đất", 'text_folded : ("dat")'),
        ("đất AND", 'text_folded : ("dat")'),
        ("đất OR", 'text_folded : ("dat")'),
        ("AND AND đất OR OR nhà", 'text_folded : (("dat" OR "nha"))'),
        # FTS5 syntax characters are separators, never syntax.
        (
            "NEAR(đất nhà) ^col: {x} + - * ' ; --",
            'text_folded : ("near" AND "dat" AND "nha" AND "col" AND "x")',
        ),
        ('đất "" nhà', 'text_folded : ("dat" AND "nha")'),
    ],
)
def test_dangling_operators_and_syntax_characters_get_a_sane_meaning(text: str, fts5: str) -> None:
    assert to_fts5(parse_query(text)) == fts5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "không có từ nào"),
        ("   * ( ) : ", "không có từ nào"),
        ("OR", "không có từ nào"),
        ("AND NOT OR", "không có từ nào"),
        ('"thu hồi đất', "ngoặc kép"),
        ("NOT đất", "không chỉ các từ bị loại trừ"),
        ("x" * (MAX_QUERY_CHARS + 1), "quá dài"),
        (" ".join(["đất"] * 40), "quá nhiều từ"),
    ],
)
def test_unsearchable_queries_are_refused_in_vietnamese(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_query(text)


def test_highlight_marks_folded_matches_and_escapes_html() -> None:
    html = highlight("Ông <b>Đức</b> nói về đất đai", parse_query("duc dat*"))
    assert html == "Ông &lt;b&gt;<mark>Đức</mark>&lt;/b&gt; nói về <mark>đất</mark> đai"


def test_highlight_exact_marks_only_exact_forms() -> None:
    html = highlight("Đà và da", parse_query("Đà", exact=True))
    assert html == "<mark>Đà</mark> và da"


def test_long_text_is_cut_around_the_first_match() -> None:
    words = [f"từ{i}" for i in range(100)]
    words[60] = "khiếu"
    html = highlight(" ".join(words), parse_query("khieu"), window=10)
    assert html.startswith("…từ55 ") and html.endswith("…")
    assert "<mark>khiếu</mark>" in html


TIERS = {Tier.CENTRAL: None, Tier.PROVINCE: "ninh-binh", Tier.COMMUNE: "ninh-binh"}


@pytest.mark.parametrize(
    ("role", "tier", "cleared"),
    list(itertools.product(Role, Tier, [False, True])),
)
def test_archive_scope_grants_exactly_what_can_grants(
    role: Role, tier: Tier, cleared: bool
) -> None:
    actor = Actor(1, role, 7, TIERS[tier], tier, cleared)
    resources = [
        SessionScope(agency, province, restricted)
        for agency, province, restricted in itertools.product(
            [7, 8], [None, "ninh-binh", "ha-noi"], [False, True]
        )
    ]
    if not can(actor, Action.SEARCH_ARCHIVE):
        with pytest.raises(Forbidden):
            archive_scope(actor)
        return
    scope = archive_scope(actor)
    for r in resources:
        visible = (
            (scope.restricted_visible or not r.restricted)
            and scope.province_code in (None, r.province_code)
            and scope.agency_id in (None, r.agency_id)
        )
        assert visible == can(actor, Action.PLAY_RECORDING, r), r
