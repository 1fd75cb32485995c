"""Vietnamese text folding for search: the same function on the indexed text and on the query.

Folding is done in Python, not in the database, so SQLite and PostgreSQL see exactly the same
tokens (no dependency on PostgreSQL's ``unaccent`` extension and its rules file, or on the
database's locale), and ``đ``/``Đ`` become ``d``/``D`` although Unicode gives them no
decomposition. Compatibility forms are read as the letters they stand for (NFKC, one character
at a time): a fullwidth ``ｂｏｉ`` or a mathematical ``𝐛𝐨𝐢``, typed or pasted, is ``boi``, so
neither a query nor a transcript can hide a word behind look-alike letters. Each character folds
to exactly one character, so positions in a folded string are positions in the original:
highlighting needs that; a compatibility form that stands for several letters (``ﬁ``, ``㎞``) is
kept as it is.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = ["exact_tokens", "fold", "fold_char", "folded_tokens", "token_spans"]

# A token is a run of letters and digits (underscore excluded, as in FTS5's unicode61 tokenizer).
_TOKEN = re.compile(r"[^\W_]+")
_SPECIAL = {"đ": "d", "Đ": "D", "ð": "d", "Ð": "D"}


@lru_cache(maxsize=4096)
def _compatible_char(char: str) -> str:
    """The character a compatibility form stands for (``ｂ``, ``𝐛`` → ``b``), when it is one;
    otherwise ``char``."""
    if char.isascii():
        return char
    compatible = unicodedata.normalize("NFKC", char)
    return compatible if len(compatible) == 1 else char


def _compatible(text: str) -> str:
    """``text`` in NFC with each compatibility form replaced; as long as ``nfc(text)``."""
    return "".join(_compatible_char(c) for c in unicodedata.normalize("NFC", text))


@lru_cache(maxsize=4096)
def fold_char(char: str) -> str:
    """One character without its diacritics (``ế`` → ``e``, ``Đ`` → ``D``, ``𝐛`` → ``b``);
    never longer."""
    char = _compatible_char(char)
    if char.isascii():
        return char
    if char in _SPECIAL:
        return _SPECIAL[char]
    base = unicodedata.normalize("NFD", char)[0]
    return base if len(base) == 1 else char


def fold(text: str) -> str:
    """``text`` in NFC, lower-cased, without diacritics; as long as ``nfc(text)``."""
    nfc = unicodedata.normalize("NFC", text)
    return "".join(fold_char(c) for c in nfc).lower()


def folded_tokens(text: str) -> list[str]:
    """The tokens of ``text`` as the diacritic-insensitive index holds them."""
    return _TOKEN.findall(fold(text))


def exact_tokens(text: str) -> list[str]:
    """The tokens of ``text`` as the exact (diacritics kept, case ignored) index holds them."""
    return _TOKEN.findall(_compatible(text).lower())


def token_spans(text: str) -> list[tuple[int, int, str, str]]:
    """``(start, end, folded, exact)`` for each token of ``nfc(text)``, for highlighting."""
    nfc = unicodedata.normalize("NFC", text)
    folded = fold(nfc)
    compatible = _compatible(nfc)
    return [
        (m.start(), m.end(), m.group(), compatible[m.start() : m.end()].lower())
        for m in _TOKEN.finditer(folded)
    ]
