"""A session's own vocabulary and the reception glossary, and the decoder hints built from them.

Whisper can be nudged towards expected words with an ``initial_prompt`` (text it takes as what
came before) or ``hotwords`` (text placed in the decoder's prefix). Which hint the pipeline gives
is :attr:`config.settings.WhisperSettings.session_vocabulary`; :func:`decoder_hints` owns what
goes into it. The hint is built from the session's own names only (participants, places,
province, agency, case classification; the title heads a prompt); a session with none gets no
hint. Per-speaker hints (a speaker's own name) were not tried: people rarely say their own name.

Measured with the embedded *base* model (``benchmarks/bench_decoding.py``; figures in
``benchmarks/README.md``), no hint helps it, so the setting is ``off`` by default and is there
for a larger model (``whisper.model``, e.g. large-v3 on a GPU worker), to be measured again with
the same benchmark before it is turned on:

- the ten core glossary terms (2026-11-28): WER on cv 0.469 -> 0.572 (prompt) / 0.538
  (hotwords), on fosd 0.542 -> 0.645 / 0.855: the model starts inventing glossary words;
- the session's names (2026-12-06, one run per set on an idle 2-core machine), WER without a
  hint / as hotwords / as a prompt: on a domain set of reception sentences naming the session's
  people and places (espeak-ng voices) 0.83 / 0.99 / 0.96, on cv 0.41 / 0.66 / 0.71, on fosd
  0.55 / 0.73 / 0.70, at 3-10 times the decoding time. The model wrote names it cannot otherwise
  know ("Nguyễn Thị Huệ", "Hà Tĩnh") but also recited the list over speech that says something
  else ("Ông Phan Đình Trạc chủ trì buổi tiếp công dân hôm nay" came out as the four names
  twice), and looped through the temperature fallback.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from config.settings import VocabularyHint

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


@dataclass(frozen=True)
class SessionVocabulary:
    """What the session record knows that its speakers are likely to say.

    Attributes:
        title: the session's title.
        agency: the receiving office's name.
        province: the province's name.
        places: the connection points (communes, offices) taking part.
        people: the participants' names, as invited.
        case_classification: the case's classification ("Khiếu nại"), if already known.
    """

    title: str = ""
    agency: str = ""
    province: str = ""
    places: tuple[str, ...] = ()
    people: tuple[str, ...] = ()
    case_classification: str = ""

    def names(self) -> list[str]:
        """The proper names and terms, people first, each once, spaces normalised."""
        return _unique(
            [*self.people, *self.places, self.province, self.agency, self.case_classification]
        )


def _unique(terms: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(" ".join(t.split()) for t in terms if t.strip()))


def build_hotwords(names: Iterable[str] = (), glossary: Iterable[str] = GLOSSARY) -> str:
    """Hotwords for faster-whisper: the session's own names first, then the glossary.

    Args:
        names: the session's participants, places and agency, as written.
        glossary: the domain vocabulary.
    """
    return ", ".join(_unique([*names, *glossary]))


def build_initial_prompt(
    names: Iterable[str] = (), glossary: Iterable[str] = GLOSSARY, title: str = ""
) -> str:
    """An initial prompt that reads like the start of a reception record naming the terms."""
    terms = _unique([*names, *glossary])
    heading = " ".join(title.split()) or "Biên bản tiếp công dân"
    return f"{heading}. {', '.join(terms)}." if terms else ""


def decoder_hints(
    vocabulary: SessionVocabulary | None, hint: VocabularyHint
) -> tuple[str | None, str | None]:
    """The ``(initial_prompt, hotwords)`` for a session (pure).

    ``off`` gives neither; ``hotwords`` the session's names as hotwords; ``prompt`` a prompt of
    the title and the names; ``prompt+glossary`` the same prompt with the glossary added. A
    session with no names gets no hint: a generic one is what made the base model invent
    glossary words.
    """
    if hint == "off" or vocabulary is None or not (names := vocabulary.names()):
        return None, None
    if hint == "hotwords":
        return None, build_hotwords(names, glossary=())
    glossary = GLOSSARY if hint == "prompt+glossary" else ()
    return build_initial_prompt(names, glossary, vocabulary.title), None
