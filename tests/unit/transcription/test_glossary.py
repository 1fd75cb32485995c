"""Decoder hints built from the glossary and a session's own vocabulary."""

from __future__ import annotations

import pytest

from config.settings import VocabularyHint
from transcription.glossary import (
    GLOSSARY,
    SessionVocabulary,
    build_hotwords,
    build_initial_prompt,
    decoder_hints,
)

SESSION = SessionVocabulary(
    title="Tiếp công dân  định kỳ",
    agency="Ban Tiếp công dân tỉnh Ninh Bình",
    province="Ninh Bình",
    places=("UBND xã Gia Viễn",),
    people=("Trần Văn Bình", "Nguyễn  Thị Hoa", "Trần Văn Bình"),
    case_classification="Khiếu nại",
)
NAMES = "Trần Văn Bình, Nguyễn Thị Hoa, UBND xã Gia Viễn, Ninh Bình, " \
    "Ban Tiếp công dân tỉnh Ninh Bình, Khiếu nại"  # fmt: skip


def test_session_names_come_first_without_duplicates() -> None:
    hotwords = build_hotwords(["Nguyễn Văn An", "  tố   cáo "])
    assert hotwords.startswith("Nguyễn Văn An, tố cáo, tiếp công dân")
    assert hotwords.count("tố cáo") == 1
    assert all(term in hotwords for term in GLOSSARY)


def test_initial_prompt_reads_like_a_record() -> None:
    assert build_initial_prompt(["Ninh Bình"]).startswith("Biên bản tiếp công dân. Ninh Bình, ")
    assert build_initial_prompt([], glossary=()) == ""


@pytest.mark.parametrize(
    ("vocabulary", "hint", "expected"),
    [
        pytest.param(SESSION, "off", (None, None), id="off"),
        pytest.param(None, "prompt", (None, None), id="no session"),
        pytest.param(SessionVocabulary(title="Phiên"), "prompt", (None, None), id="no names"),
        pytest.param(SESSION, "hotwords", (None, NAMES), id="hotwords: the names only"),
        pytest.param(
            SESSION, "prompt", (f"Tiếp công dân định kỳ. {NAMES}.", None), id="prompt: title, names"
        ),
        pytest.param(
            SESSION,
            "prompt+glossary",
            (f"Tiếp công dân định kỳ. {NAMES}, {', '.join(GLOSSARY)}.", None),
            id="prompt with the glossary",
        ),
    ],
)
def test_decoder_hints(
    vocabulary: SessionVocabulary | None,
    hint: VocabularyHint,
    expected: tuple[str | None, str | None],
) -> None:
    assert decoder_hints(vocabulary, hint) == expected
