"""Citizen-reception vocabulary, and the decoder hints (prompt, hotwords) built from it.

Whisper can be nudged towards expected words with an ``initial_prompt`` (text it takes as what
came before) or ``hotwords`` (text placed in the decoder's prefix). Measured on ``shared/audio``
with the embedded *base* model and the ten core terms, both made things worse: WER on cv
0.469 -> 0.572 (prompt) / 0.538 (hotwords), on fosd 0.542 -> 0.645 / 0.855 (the model starts
inventing glossary words). So the pipeline passes neither by default (see
:mod:`transcription.engine`); they are here for a larger model, where they should be measured
again, with the session's own names added.
"""

from __future__ import annotations

from collections.abc import Iterable

GLOSSARY: tuple[str, ...] = (
    "tiếp công dân",
    "Ban Tiếp công dân",
    "khiếu nại",
    "tố cáo",
    "kiến nghị",
    "phản ánh",
    "bồi thường",
    "giải phóng mặt bằng",
    "đất đai",
    "giấy chứng nhận quyền sử dụng đất",
    "Ủy ban nhân dân",
    "Hội đồng nhân dân",
    "chủ trì",
    "biên bản",
    "đơn thư",
    "thanh tra",
    "quyết định",
    "điểm cầu",
)
"""Words and phrases that recur in reception sessions, in their official spelling."""


def _unique(terms: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(" ".join(t.split()) for t in terms if t.strip()))


def build_hotwords(names: Iterable[str] = (), glossary: Iterable[str] = GLOSSARY) -> str:
    """Hotwords for faster-whisper: the session's own names first, then the glossary.

    Args:
        names: the session's participants, province and agency, as written.
        glossary: the domain vocabulary.
    """
    return ", ".join(_unique([*names, *glossary]))


def build_initial_prompt(names: Iterable[str] = (), glossary: Iterable[str] = GLOSSARY) -> str:
    """An initial prompt that reads like the start of a reception record naming the terms."""
    terms = _unique([*names, *glossary])
    return f"Biên bản tiếp công dân. {', '.join(terms)}." if terms else ""
