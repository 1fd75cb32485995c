"""Vietnamese text folding for search: the same function on the indexed text and on the query.

Folding is done in Python, not in the database, so SQLite and PostgreSQL see exactly the same
tokens (no dependency on PostgreSQL's ``unaccent`` extension and its rules file, or on the
database's locale), and ``đ``/``Đ`` become ``d``/``D`` although Unicode gives them no
decomposition. Each character folds to exactly one character, so positions in a folded string are
positions in the original: highlighting needs that.
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
def fold_char(char: str) -> str:
    """One character without its diacritics (``ế`` → ``e``, ``Đ`` → ``D``); never longer."""
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
    return _TOKEN.findall(unicodedata.normalize("NFC", text).lower())


def token_spans(text: str) -> list[tuple[int, int, str, str]]:
    """``(start, end, folded, exact)`` for each token of ``nfc(text)``, for highlighting."""
    nfc = unicodedata.normalize("NFC", text)
    folded = fold(nfc)
    return [
        (m.start(), m.end(), m.group(), nfc[m.start() : m.end()].lower())
        for m in _TOKEN.finditer(folded)
    ]
