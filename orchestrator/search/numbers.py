"""Numbers said in words or written in digits, read as one value so that either form finds the
other (pure): an archivist types ``200 triệu`` where the transcript says ``hai trăm triệu``, or
``ba mươi ngày`` where it says ``30 ngày``.

A *number* here is a run of tokens that reads as one integer: spoken Vietnamese
(``hai trăm năm mươi``, ``mười lăm``, ``một trăm linh năm``, ``hai tỷ ba trăm triệu``,
``hai triệu rưỡi``), digits with a scale word (``200 triệu``, ``1,5 tỷ``), digits grouped by
thousands (``200.000.000``, ``200,000``), or one digit word before a counting noun (``ba ngày``,
``năm hộ``). Its *value form* is the integer in plain digits.

The index keeps the words as said and, after them, the utterance once more with each number in
its value form (:func:`indexed_tokens`); a query searches what was typed *or* its value form. So
``hai tram trieu`` still finds ``hai trăm triệu`` as words, and ``200 triệu``, ``200.000.000`` and
``hai trăm triệu`` all find each other.

What is deliberately *not* a number, because the same words mean something else far more often: a
lone digit word (``một người``, ``năm nay``, ``hai bên``); ``năm`` after ``mươi``, ``mười`` or
``trăm`` (``mười năm`` is ten years: fifteen is ``mười lăm``; ``hai mươi năm`` is twenty years,
``một trăm năm`` a hundred years); ``không``. Transcripts carry diacritics, so the index reads words
exactly; a query may be typed without them (``hai tram trieu``), so it is also read *loosely*, by
folded forms, where a multiplier word (``tram``, ``muoi``, ``trieu``...) says a number is meant.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from orchestrator.search.folding import fold, token_spans

__all__ = ["FORMS_SEPARATOR", "NumberSpan", "canonical_tokens", "indexed_tokens", "spoken_numbers"]

FORMS_SEPARATOR: Final = "0so0"
"""Stands between the words as said and their value form in an indexed text, so that no phrase
matches across the two. A query never produces it: :func:`canonical_tokens` has no such token,
and a typed one is dropped by the query parser."""

_UNITS: Final = {"một": 1, "hai": 2, "ba": 3, "bốn": 4, "năm": 5, "sáu": 6, "bảy": 7, "bẩy": 7,
                 "tám": 8, "chín": 9}  # fmt: skip
# After ``mươi``/``chục`` (``hai mươi mốt`` = 21, ``hai mươi tư`` = 24, ``hai mươi lăm`` = 25);
# ``năm`` there means years, not five.
_AFTER_TENS: Final = {**{w: v for w, v in _UNITS.items() if w != "năm"},
                      "mốt": 1, "tư": 4, "lăm": 5, "nhăm": 5}  # fmt: skip
_AFTER_TEN: Final = {**{w: v for w, v in _UNITS.items() if w != "năm"}, "tư": 4, "lăm": 5}
_TENS: Final = frozenset({"mươi", "chục"})
_TEN: Final = "mười"
_HUNDRED: Final = "trăm"
_ZERO_TENS: Final = frozenset({"linh", "lẻ"})
_HALF: Final = "rưỡi"
_SCALES: Final = {"nghìn": 10**3, "ngàn": 10**3, "triệu": 10**6, "tỷ": 10**9, "tỉ": 10**9}
_COUNTED: Final = frozenset(
    "ngày tuần tháng năm giờ phút giây lần người hộ thửa mét lô căn đồng tuổi đợt buổi lượt "
    "khoản điều hecta ha kg tấn tầng xã tỉnh đơn".split()
)
"""Nouns a lone digit word counts (``ba ngày``, ``năm hộ``): only then is it read as a number."""
_COUNTED_FOLDED: Final = frozenset(fold(w) for w in _COUNTED)
_MULTIPLIERS: Final = frozenset({_TEN, _HUNDRED, *_TENS, *_ZERO_TENS, *_SCALES})

_WORDS: Final = frozenset(
    {*_UNITS, *_AFTER_TENS, *_AFTER_TEN, *_TENS, _TEN, _HUNDRED, *_ZERO_TENS, _HALF, *_SCALES}
)
# Loose reading: a word typed without diacritics stands for every number word it folds to
# (``muoi`` for ``mười`` and ``mươi``; the place decides which).
_BY_FOLDED: Final = {fold(w): frozenset(v for v in _WORDS if fold(v) == fold(w)) for w in _WORDS}


@dataclass(frozen=True)
class NumberSpan:
    """One number in a text: tokens ``[first, last)`` of :func:`~folding.token_spans`, the
    characters ``[start, end)`` of ``nfc(text)``, and its value in plain digits."""

    first: int
    last: int
    start: int
    end: int
    digits: str


class _Reader:
    """Reads numbers off one text's tokens, strictly (words as written) or loosely (folded)."""

    def __init__(self, text: str, *, loose: bool) -> None:
        self.text = text
        self.spans = token_spans(text)
        self.words = [exact for _s, _e, _f, exact in self.spans]
        self.loose = loose
        self.readings = [
            _BY_FOLDED.get(fold(w), frozenset({w})) | {w} if loose else frozenset({w})
            for w in self.words
        ]

    def _is(self, i: int, names: frozenset[str] | set[str] | dict[str, int]) -> bool:
        return i < len(self.words) and any(r in names for r in self.readings[i])

    def _value(self, i: int, table: dict[str, int]) -> int | None:
        if i >= len(self.words):
            return None
        return next((table[r] for r in sorted(self.readings[i]) if r in table), None)

    def _digits(self, i: int) -> tuple[Fraction, int] | None:
        """Digits at token ``i`` (``200``, ``200.000.000``, ``1,5`` before a scale): the value
        and the token after them."""
        if not self._numeral(i):
            return None
        value, j = self.words[i], i + 1
        if len(value) <= 3:  # thousands groups: 1-3 digits, then groups of exactly three
            while self._joined(j) in {".", ","} and self._numeral(j) and len(self.words[j]) == 3:
                value, j = value + self.words[j], j + 1
        if j == i + 1 and self._joined(j) == "," and self._numeral(j) and self._is(j + 1, _SCALES):
            return Fraction(f"{value}.{self.words[j]}"), j + 1
        return Fraction(int(value)), j

    def _numeral(self, i: int) -> bool:
        return i < len(self.words) and self.words[i].isascii() and self.words[i].isdigit()

    def _joined(self, j: int) -> str:
        """The characters between tokens ``j - 1`` and ``j`` (``""`` past the end)."""
        if j >= len(self.words):
            return ""
        return self.text[self.spans[j - 1][1] : self.spans[j][0]]

    def _below_hundred(self, i: int) -> tuple[int, int] | None:
        """``mười lăm``, ``hai mươi mốt``, ``ba chục``, or a lone unit: (value, next token)."""
        if self._is(i, {_TEN}):
            ones = self._value(i + 1, _AFTER_TEN)
            return (10 + ones, i + 2) if ones else (10, i + 1)
        unit = self._value(i, _UNITS)
        if unit is None:
            return None
        if unit >= 2 and self._is(i + 1, _TENS):
            ones = self._value(i + 2, _AFTER_TENS)
            return (unit * 10 + ones, i + 3) if ones else (unit * 10, i + 2)
        return unit, i + 1

    def _below_thousand(self, i: int) -> tuple[Fraction, int] | None:
        """A group: digits, or words up to ``chín trăm chín mươi chín``."""
        digits = self._digits(i)
        if digits is not None:
            return digits
        unit = self._value(i, _UNITS)
        if unit is None or not self._is(i + 1, {_HUNDRED}):
            below = self._below_hundred(i)
            return (Fraction(below[0]), below[1]) if below else None
        j = i + 2
        if self._is(j, _ZERO_TENS) and self._value(j + 1, _UNITS):
            return Fraction(unit * 100 + (self._value(j + 1, _UNITS) or 0)), j + 2
        rest = self._below_hundred(j)
        # ``một trăm năm mươi`` is 150, ``một trăm mười`` 110; ``một trăm năm`` is 100 years.
        if rest is not None and (rest[1] - j >= 2 or self._is(j, {_TEN})):
            return Fraction(unit * 100 + rest[0]), rest[1]
        return Fraction(unit * 100), j

    def number(self, i: int) -> tuple[int, int] | None:
        """The number starting at token ``i``, as (value, next token), if it is one."""
        total, j, last_scale = Fraction(0), i, 0
        while (group := self._below_thousand(j)) is not None:
            value, k = group
            scale = 1
            while self._is(k, _SCALES):
                scale *= self._value(k, _SCALES) or 1
                k += 1
            if last_scale and scale >= last_scale:
                break  # ``hai triệu ba triệu``: two numbers
            if last_scale and scale == 1 and k - j < 2 and not self._is(j, {_TEN}):
                break  # ``hai nghìn năm`` is two thousand years; ``2 tỷ 300`` two numbers
            total, j = total + value * scale, k
            if scale == 1:
                break
            last_scale = scale
            if self._is(j, {_HALF}):  # ``hai triệu rưỡi``
                total, j = total + Fraction(scale, 2), j + 1
                break
        if j == i or total.denominator != 1 or not self._is_number(i, j):
            return None
        return int(total), j

    def _counted(self, j: int) -> bool:
        if j >= len(self.words):
            return False
        return (fold(self.words[j]) in _COUNTED_FOLDED) if self.loose else self.words[j] in _COUNTED

    def _is_number(self, i: int, j: int) -> bool:
        """Whether tokens ``[i, j)`` are a number: digits, several tokens with a multiplier,
        or a lone digit word (not ``một``) or ``mười`` before a counting noun."""
        if self._numeral(i):
            return True
        if j - i == 1:
            lone = not self._is(i, {"một"}) and self._is(i, {*_UNITS, _TEN})
            return lone and self._counted(j)
        return any(self._is(k, _MULTIPLIERS) for k in range(i, j))


def spoken_numbers(text: str, *, loose: bool = False) -> list[NumberSpan]:
    """The numbers in ``text``, left to right, each read as long as it goes.

    Args:
        text: a transcript's utterance or a query.
        loose: also read words typed without diacritics (for queries).
    """
    reader = _Reader(text, loose=loose)
    found: list[NumberSpan] = []
    i = 0
    while i < len(reader.spans):
        number = reader.number(i)
        if number is None:
            i += 1
            continue
        value, j = number
        start, end = reader.spans[i][0], reader.spans[j - 1][1]
        found.append(NumberSpan(i, j, start, end, str(value)))
        i = j
    return found


def canonical_tokens(text: str, *, exact: bool, loose: bool = False) -> list[str] | None:
    """``text``'s tokens (exact or folded, as the index holds them) with each number in its
    value form; ``None`` when that changes nothing."""
    spans = token_spans(text)
    numbers = [n for n in spoken_numbers(text, loose=loose) if n.last - n.first > 1
               or spans[n.first][3] != n.digits]  # fmt: skip
    if not numbers:
        return None
    tokens = [exact_ if exact else folded for _s, _e, folded, exact_ in spans]
    out: list[str] = []
    i = 0
    for number in numbers:
        out += tokens[i : number.first] + [number.digits]
        i = number.last
    return out + tokens[i:]


def indexed_tokens(text: str, *, exact: bool) -> str:
    """What the index holds for ``text``: its tokens, and when it says a number, the
    :data:`FORMS_SEPARATOR` and the tokens again with each number in its value form."""
    spans = token_spans(text)
    said = " ".join(exact_ if exact else folded for _s, _e, folded, exact_ in spans)
    values = canonical_tokens(text, exact=exact)
    return said if values is None else f"{said} {FORMS_SEPARATOR} {' '.join(values)}"
