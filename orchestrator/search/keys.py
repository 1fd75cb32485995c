"""The search key of an indexed utterance, and the filter tokens SQLite indexes with it (pure).

A search must stay fast however large the archive grows, so it never reads more than
:data:`MAX_COUNTED` matches: the newest ones. For that, "newest first", a date range and the
province must be known from the full-text index alone, without reading the utterance rows.
The key packs them into the integer SQLite FTS5 uses as the row id (63 bits)::

    minutes from the session's start to 2063 (25 bits: sessions from 2000 to 2063)
    province's GSO code (7 bits: 00 central .. 96)
    session id, low 15 bits (tells apart sessions of one province starting the same minute)
    utterance number in the session (16 bits)

so ascending keys are newest session first, each session's utterances in the order spoken (FTS5
reads ascending row ids a quarter faster than descending ones); a date range is a key range;
and the province of a match is read off its key. The other filters are words in an indexed
``facets`` column (SQLite builds it from the row's columns, see migration 0009; :func:`facet`
spells the same words for queries).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from orchestrator.core.timezone import VN_TZ, require_aware

__all__ = [
    "EPOCH",
    "MAX_COUNTED",
    "RESTRICTED",
    "KeyRangeError",
    "date_key_range",
    "facet",
    "province_counts",
    "search_key",
]

MAX_COUNTED: Final = 10_000
"""A search reads at most this many matches (the newest); more are reported as "more than"."""

EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)
RESTRICTED: Final = "restricted"
"""The facet word of every utterance of a restricted session."""
SEQ_BITS, SESSION_BITS, PROVINCE_BITS, MINUTE_BITS = 16, 15, 7, 25
SESSION_SHIFT = SEQ_BITS
PROVINCE_SHIFT = SESSION_SHIFT + SESSION_BITS
MINUTE_SHIFT = PROVINCE_SHIFT + PROVINCE_BITS
LAST_MINUTE = (1 << MINUTE_BITS) - 1
_FACET_VALUE = re.compile(r"[a-z0-9_-]+")


class KeyRangeError(ValueError):
    """A value that does not fit in a search key."""


def search_key(session_start: datetime, gso_code: str, session_id: int, seq: int) -> int:
    """The key of utterance ``seq`` of a session (see the module docstring).

    Raises:
        KeyRangeError: a start before 2000 or after 2063, a GSO code outside 0-127, or more than
            65,536 utterances in one session.
    """
    minute = _minute(require_aware(session_start, "session_start"))
    province = int(gso_code)
    if not 0 <= minute <= LAST_MINUTE:
        raise KeyRangeError(f"session start {session_start.isoformat()} is outside 2000-2063")
    if not 0 <= province < 1 << PROVINCE_BITS:
        raise KeyRangeError(f"GSO province code {gso_code!r} is outside 00-127")
    if not 0 <= seq < 1 << SEQ_BITS:
        raise KeyRangeError(f"utterance number {seq} is over {(1 << SEQ_BITS) - 1}")
    return (
        (LAST_MINUTE - minute) << MINUTE_SHIFT
        | province << PROVINCE_SHIFT
        | (session_id % (1 << SESSION_BITS)) << SESSION_SHIFT
        | seq
    )


def province_counts(keys: Iterable[int]) -> dict[str, int]:
    """How many of ``keys`` belong to each province, by two-digit GSO code."""
    mask = (1 << PROVINCE_BITS) - 1
    counted = Counter((key >> PROVINCE_SHIFT) & mask for key in keys)
    return {f"{gso:02d}": count for gso, count in counted.items()}


def _minute(moment: datetime) -> int:
    return int((moment - EPOCH).total_seconds() // 60)


def date_key_range(date_from: date | None, date_to: date | None) -> tuple[int, int] | None:
    """Keys ``[low, high)`` of sessions started on ``date_from`` .. ``date_to`` (Vietnam time,
    both days included); ``None`` when neither is given."""
    if date_from is None and date_to is None:
        return None
    first = _minute(datetime.combine(date_from, time(), VN_TZ)) if date_from else 0
    end = (
        _minute(datetime.combine(date_to + timedelta(days=1), time(), VN_TZ))
        if date_to
        else LAST_MINUTE + 1
    )
    first, end = max(0, min(first, LAST_MINUTE + 1)), max(0, min(end, LAST_MINUTE + 1))
    # Minutes [first, end) are stored as LAST_MINUTE - minute: (LAST_MINUTE - end, ...].
    return (LAST_MINUTE + 1 - end) << MINUTE_SHIFT, (LAST_MINUTE + 1 - first) << MINUTE_SHIFT


def facet(kind: str, value: str | int) -> str:
    """The indexed word for a filter: ``p`` province code, ``a`` agency id, ``k`` session kind,
    ``r`` speaker role, ``c`` case classification, ``s`` session id, without ``-`` and ``_``
    (the tokenizer splits on them), plus :data:`RESTRICTED`; migration 0009 builds the same
    words in SQL.

    Raises:
        KeyRangeError: a value with characters other than ``a-z 0-9 - _`` (it could not match).
    """
    text = str(value)
    if not _FACET_VALUE.fullmatch(text):
        raise KeyRangeError(f"not a filter value: {text!r}")
    return kind + text.replace("-", "").replace("_", "")
