"""Recurring sessions expanded in Vietnamese wall time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.core.timezone import VN_TZ
from orchestrator.scheduling.recurrence import (
    MAX_OCCURRENCES,
    Occurrence,
    Recurrence,
    RecurrenceError,
    expand,
    validate_rrule,
)

MONTHLY_15TH = Recurrence("FREQ=MONTHLY;BYMONTHDAY=15")
FIRST = datetime(2026, 1, 15, 8, 0, tzinfo=VN_TZ)  # 01:00Z
THREE_HOURS = timedelta(hours=3)
YEAR_2026 = (datetime(2026, 1, 1, tzinfo=VN_TZ), datetime(2027, 1, 1, tzinfo=VN_TZ))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_the_15th_of_every_month_stays_at_eight_local() -> None:
    occurrences = expand(FIRST, THREE_HOURS, MONTHLY_15TH, *YEAR_2026)
    assert occurrences == [
        Occurrence(utc(2026, month, 15, 1), utc(2026, month, 15, 4)) for month in range(1, 13)
    ]
    assert {o.start.astimezone(VN_TZ).hour for o in occurrences} == {8}
    assert all(o.start.tzinfo is UTC for o in occurrences)


@pytest.mark.parametrize(
    "exdate",
    [datetime(2026, 6, 15, 8, 0, tzinfo=VN_TZ), utc(2026, 6, 15, 1)],
    ids=["local", "utc"],
)
def test_exdate_removes_one_occurrence(exdate: datetime) -> None:
    recurrence = Recurrence(MONTHLY_15TH.rrule, exdates=(exdate,))
    starts = [o.start for o in expand(FIRST, THREE_HOURS, recurrence, *YEAR_2026)]
    assert len(starts) == 11
    assert utc(2026, 6, 15, 1) not in starts


@pytest.mark.parametrize(
    ("rule", "window", "expected_starts"),
    [
        pytest.param(
            "FREQ=WEEKLY;BYDAY=TU,TH",
            # 2026-01-15 is a Thursday.
            (utc(2026, 1, 1), utc(2026, 1, 30)),
            [utc(2026, 1, d, 1) for d in (15, 20, 22, 27, 29)],
            id="weekly-byday",
        ),
        pytest.param(
            "RRULE:freq=weekly;count=3",
            (utc(2026, 1, 1), utc(2027, 1, 1)),
            [utc(2026, 1, 15, 1), utc(2026, 1, 22, 1), utc(2026, 1, 29, 1)],
            id="count-lowercase-prefixed",
        ),
        pytest.param(
            # Google writes UNTIL in UTC: 2026-03-15 01:00Z is 08:00 local, included.
            "FREQ=MONTHLY;BYMONTHDAY=15;UNTIL=20260315T010000Z",
            (utc(2026, 1, 1), utc(2027, 1, 1)),
            [utc(2026, 1, 15, 1), utc(2026, 2, 15, 1), utc(2026, 3, 15, 1)],
            id="until-utc",
        ),
        pytest.param(
            "FREQ=MONTHLY;BYMONTHDAY=15;UNTIL=20260215",
            (utc(2026, 1, 1), utc(2027, 1, 1)),
            [utc(2026, 1, 15, 1), utc(2026, 2, 15, 1)],
            id="until-date",
        ),
        pytest.param(
            "FREQ=MONTHLY;BYMONTHDAY=15",
            # Starts inside the March occurrence (01:00–04:00Z): it overlaps, so it is kept;
            # ends exactly at May's start: May is out.
            (utc(2026, 3, 15, 3), utc(2026, 5, 15, 1)),
            [utc(2026, 3, 15, 1), utc(2026, 4, 15, 1)],
            id="window-clipping",
        ),
        pytest.param(
            "FREQ=MONTHLY;BYMONTHDAY=15",
            (utc(2026, 3, 15, 4), utc(2026, 4, 15, 1)),
            [],
            id="window-between-occurrences",
        ),
    ],
)
def test_rules(
    rule: str, window: tuple[datetime, datetime], expected_starts: list[datetime]
) -> None:
    occurrences = expand(FIRST, THREE_HOURS, Recurrence(rule), *window)
    assert [o.start for o in occurrences] == expected_starts


def test_a_one_off_session_is_one_occurrence_if_it_overlaps() -> None:
    assert expand(FIRST, THREE_HOURS, None, *YEAR_2026) == [
        Occurrence(utc(2026, 1, 15, 1), utc(2026, 1, 15, 4))
    ]
    assert expand(FIRST, THREE_HOURS, None, utc(2026, 1, 15, 4), utc(2026, 2, 1)) == []


def test_an_unbounded_rule_is_capped() -> None:
    occurrences = expand(
        FIRST, THREE_HOURS, Recurrence("FREQ=DAILY"), utc(2026, 1, 1), utc(2030, 1, 1)
    )
    assert len(occurrences) == MAX_OCCURRENCES
    assert occurrences[-1].start == utc(2026, 1, 15, 1) + timedelta(days=MAX_OCCURRENCES - 1)


def test_validate_rrule_normalizes() -> None:
    assert validate_rrule(" RRULE:freq=monthly;bymonthday=15 ") == "FREQ=MONTHLY;BYMONTHDAY=15"


@pytest.mark.parametrize(
    "text",
    [
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
        "FREQ=YEARLY;BYDAY=MO;BYSETPOS=366",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
        "FREQ=MONTHLY;BYMONTH=1,2;BYMONTHDAY=31",
    ],
)
def test_rules_that_do_occur_pass(text: str) -> None:
    assert validate_rrule(text) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "để trống"),
        ("garbage", "không có dạng TÊN=GIÁ_TRỊ"),
        ("FREQ=FORTNIGHTLY", "ngày, tuần, tháng hoặc năm"),
        ("FREQ=HOURLY", "ngày, tuần, tháng hoặc năm"),
        ("BYDAY=MO", "ngày, tuần, tháng hoặc năm"),
        ("FREQ=WEEKLY;BYDAY=XX", "Quy tắc lặp lại không hợp lệ: FREQ=WEEKLY;BYDAY=XX"),
        ("FREQ=WEEKLY;FREQ=DAILY", "FREQ xuất hiện hai lần"),
        ("FREQ=DAILY;COUNT=3;UNTIL=20261231", "đồng thời COUNT và UNTIL"),
        ("FREQ=DAILY;UNTIL=2026", "UNTIL=2026 không phải ngày giờ"),
        ("FREQ=DAILY;UNTIL=20261340T000000Z", "UNTIL=20261340T000000Z"),
        ("FREQ=DAILY\nRRULE:FREQ=WEEKLY", "một dòng RRULE"),
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL phải từ 1"),
        ("FREQ=DAILY;COUNT=-1", "COUNT phải từ 1"),
        ("FREQ=WEEKLY;INTERVAL=two", "INTERVAL=TWO phải là số nguyên"),
        ("FREQ=DAILY;BYSETPOS=-366", "BYSETPOS chỉ dùng với FREQ=WEEKLY"),
        ("FREQ=WEEKLY;BYDAY=MO,TU;BYSETPOS=8", "BYSETPOS phải từ 1 đến 7"),
        ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=0", "BYSETPOS phải từ 1 đến 31"),
        ("FREQ=YEARLY;BYDAY=MO;BYSETPOS=-367", "từ -366 đến -1"),
        ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "tháng 2 không có ngày 30"),
        ("FREQ=YEARLY;BYMONTH=4,6;BYMONTHDAY=-31", "tháng 4, 6 không có ngày -31"),
        ("FREQ=DAILY;BYHOUR=8", "không hỗ trợ BYHOUR"),
        ("FREQ=YEARLY;BYEASTER=0", "không hỗ trợ BYEASTER"),
    ],
)
def test_invalid_rules_are_refused_in_vietnamese(text: str, message: str) -> None:
    with pytest.raises(RecurrenceError, match=message) as caught:
        validate_rrule(text)
    assert caught.value.message_vi == str(caught.value)


def test_expand_refuses_an_invalid_rule_and_naive_times() -> None:
    with pytest.raises(RecurrenceError):
        expand(FIRST, THREE_HOURS, Recurrence("FREQ=NEVER"), *YEAR_2026)
    with pytest.raises(ValueError, match="naive"):
        expand(datetime(2026, 1, 15, 8), THREE_HOURS, None, *YEAR_2026)
    with pytest.raises(ValueError, match="positive"):
        expand(FIRST, timedelta(0), None, *YEAR_2026)
