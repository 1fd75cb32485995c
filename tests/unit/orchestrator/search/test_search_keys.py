"""Search keys: ordered by session start, carrying the province; date ranges as key ranges."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from orchestrator.core.timezone import VN_TZ
from orchestrator.search.keys import (
    KeyRangeError,
    date_key_range,
    facet,
    province_counts,
    search_key,
)

T0 = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)


def test_keys_order_newest_session_first_before_anything_else() -> None:
    keys = [
        search_key(T0 + timedelta(days=400), "96", 99_999, 65_535),  # last on all but the start
        search_key(T0 + timedelta(minutes=1), "00", 1, 0),
        search_key(T0, "01", 2, 0),
    ]
    assert keys == sorted(keys)
    assert all(0 < k < 2**63 for k in keys)
    assert search_key(datetime(2000, 1, 1, tzinfo=UTC), "00", 0, 0) < 2**63


def test_the_province_is_read_off_the_key() -> None:
    keys = [search_key(T0, gso, 123_456, 789) for gso in ("00", "01", "37", "37", "96", "127")]
    assert province_counts(keys) == {"00": 1, "01": 1, "37": 2, "96": 1, "127": 1}
    assert province_counts([]) == {}


def test_sessions_of_one_province_and_minute_get_different_keys() -> None:
    assert search_key(T0, "37", 10, 0) != search_key(T0 + timedelta(seconds=30), "37", 11, 0)
    assert len({search_key(T0, "37", 10, seq) for seq in range(100)}) == 100


def test_date_order_is_newest_session_first_then_the_order_spoken() -> None:
    older = [search_key(T0, "37", 5, seq) for seq in (0, 1, 2)]
    newer = [search_key(T0 + timedelta(hours=2), "01", 6, seq) for seq in (0, 1)]
    assert sorted(older + newer) == newer + older


def test_date_ranges_are_vietnam_days_both_included() -> None:
    low, high = date_key_range(date(2026, 3, 10), date(2026, 3, 10)) or (0, 0)
    midnight = datetime(2026, 3, 10, tzinfo=VN_TZ)
    inside = [midnight, midnight + timedelta(hours=23, minutes=59, seconds=59)]
    outside = [midnight - timedelta(seconds=1), midnight + timedelta(days=1)]
    for moment in inside:
        assert low <= search_key(moment, "96", 32_767, 65_535) < high
        assert low <= search_key(moment, "00", 0, 0) < high
    for moment in outside:
        assert not low <= search_key(moment, "37", 1, 0) < high
    assert date_key_range(None, None) is None
    only_from = date_key_range(date(2026, 3, 10), None)
    assert only_from is not None and only_from[1] == high
    assert only_from[0] <= search_key(datetime(2063, 1, 1, tzinfo=UTC), "01", 1, 1)
    only_to = date_key_range(None, date(2026, 3, 10))
    assert only_to is not None and only_to[0] == low
    assert search_key(datetime(2000, 1, 1, tzinfo=UTC), "00", 0, 0) < only_to[1]


@pytest.mark.parametrize(
    ("start", "gso", "seq", "message"),
    [
        (datetime(1999, 12, 31, 23, 59, tzinfo=UTC), "01", 0, "outside 2000-2063"),
        (datetime(2064, 1, 1, tzinfo=UTC), "01", 0, "outside 2000-2063"),
        (T0, "128", 0, "outside 00-127"),
        (T0, "01", 65_536, "over 65535"),
    ],
)
def test_what_a_key_cannot_hold_is_refused(
    start: datetime, gso: str, seq: int, message: str
) -> None:
    with pytest.raises(KeyRangeError, match=message):
        search_key(start, gso, 1, seq)


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        search_key(datetime(2026, 3, 10), "01", 1, 0)


def test_facet_words_lose_separators_and_refuse_anything_else() -> None:
    assert facet("p", "ninh-binh") == "pninhbinh"
    assert facet("r", "central_observer") == "rcentralobserver"
    assert facet("s", 42) == "s42"
    for bad in ("Ninh Bình", 'x" OR "y', "a b", ""):
        with pytest.raises(KeyRangeError):
            facet("p", bad)
