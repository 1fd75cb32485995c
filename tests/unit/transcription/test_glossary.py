"""Decoder hints built from the glossary and a session's own names."""

from __future__ import annotations

from transcription.glossary import GLOSSARY, build_hotwords, build_initial_prompt


def test_session_names_come_first_without_duplicates() -> None:
    hotwords = build_hotwords(["Nguyễn Văn An", "  tố   cáo "])
    assert hotwords.startswith("Nguyễn Văn An, tố cáo, tiếp công dân")
    assert hotwords.count("tố cáo") == 1
    assert all(term in hotwords for term in GLOSSARY)


def test_initial_prompt_reads_like_a_record() -> None:
    assert build_initial_prompt(["Ninh Bình"]).startswith("Biên bản tiếp công dân. Ninh Bình, ")
    assert build_initial_prompt([], glossary=()) == ""
