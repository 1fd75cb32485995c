"""Recurring sessions: RFC 5545 RRULE/EXDATE expanded into occurrences.

Expansion runs in Vietnamese wall time: "the 15th of every month, 8:00 to 11:00" means 8:00 in
Hà Nội each time, so the rule is applied to the naive local start and each result localized and
only then converted to UTC. Vietnam has no daylight saving time today; doing it this way keeps the
meaning right should that ever change, and is what calendar clients do with a TZID'd DTSTART.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

# types-python-dateutil is not among the dev dependencies; the rule object is used as Any.
from dateutil.rrule import rrulestr

from orchestrator.core.timezone import VN_TZ, require_aware

MAX_OCCURRENCES = 1000
# Reception is held by the day at the finest; sub-daily rules would only let a typo generate
# thousands of sessions. BYSETPOS picks among the days of one period, so it needs a period of
# more than one day and can reach at most as many days as that period has.
_SETPOS_REACH = {"DAILY": 0, "WEEKLY": 7, "MONTHLY": 31, "YEARLY": 366}
# What RFC 5545 lets a rule say, less the sub-daily parts (the time of day is DTSTART's).
# dateutil's own extensions (BYEASTER) are not iCalendar and no calendar app writes them.
_PARTS = frozenset(
    {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO",
     "BYMONTH", "BYSETPOS", "WKST"}
)  # fmt: skip
_SUB_DAILY = frozenset({"BYHOUR", "BYMINUTE", "BYSECOND"})
# Days in each month, February's in a leap year: a day beyond them never comes.
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_UNTIL = re.compile(r"(\d{8})(?:T(\d{6})(Z)?)?")
_ICAL_DATETIME = "%Y%m%dT%H%M%S"


class RecurrenceError(ValueError):
    """A recurrence rule that cannot be used; ``str()`` is the Vietnamese message for the user.

    Attributes:
        message_vi: the message, in Vietnamese.
    """

    def __init__(self, message_vi: str) -> None:
        super().__init__(message_vi)
        self.message_vi = message_vi


@dataclass(frozen=True)
class Recurrence:
    """How a session repeats.

    Attributes:
        rrule: the RRULE value, e.g. ``FREQ=MONTHLY;BYMONTHDAY=15``.
        exdates: original starts of the occurrences taken out (aware, any zone).
    """

    rrule: str
    exdates: tuple[datetime, ...] = ()


@dataclass(frozen=True)
class Occurrence:
    """One occurrence of a session, in UTC."""

    start: datetime
    end: datetime


def validate_rrule(text: str) -> str:
    """Check a recurrence rule and return it normalized.

    Args:
        text: an RRULE value, with or without the ``RRULE:`` prefix.

    Returns:
        The rule in upper case without the prefix, as it should be stored.

    Raises:
        RecurrenceError: the rule does not parse, repeats more often than daily, has both
            COUNT and UNTIL (RFC 5545 forbids it), an INTERVAL or COUNT below 1, a BYSETPOS its
            frequency cannot reach, a part calendars do not use, or a month day that no month
            of the rule has (30 February).
    """
    rule = _normalize(text)
    _local_rule(rule, datetime(2000, 1, 1))
    return rule


def expand(
    first_start: datetime,
    duration: timedelta,
    recurrence: Recurrence | None,
    window_start: datetime,
    window_end: datetime,
) -> list[Occurrence]:
    """List the occurrences of a session that overlap a window.

    Args:
        first_start: the first occurrence's start (aware).
        duration: how long each occurrence lasts (positive).
        recurrence: how it repeats; ``None`` for a one-off session.
        window_start: the window's start (aware, inclusive).
        window_end: the window's end (aware, exclusive).

    Returns:
        Occurrences with ``start < window_end`` and ``end > window_start``, in order, in UTC,
        at most :data:`MAX_OCCURRENCES` (an unbounded rule is cut there, not refused).

    Raises:
        RecurrenceError: the rule is invalid.
        ValueError: a datetime is naive or the duration is not positive.
    """
    first = require_aware(first_start, "first_start").astimezone(UTC)
    lower = require_aware(window_start, "window_start")
    upper = require_aware(window_end, "window_end")
    if duration <= timedelta(0):
        raise ValueError(f"duration must be positive, got {duration}")
    starts = iter([first]) if recurrence is None else _starts(first, recurrence)
    occurrences: list[Occurrence] = []
    for start in starts:
        if start >= upper or len(occurrences) == MAX_OCCURRENCES:
            break
        if start + duration > lower:
            occurrences.append(Occurrence(start, start + duration))
    return occurrences


def _starts(first: datetime, recurrence: Recurrence) -> Iterator[datetime]:
    local_first = first.astimezone(VN_TZ).replace(tzinfo=None)
    rule = _local_rule(_normalize(recurrence.rrule), local_first)
    excluded = {require_aware(d, "exdate").astimezone(UTC) for d in recurrence.exdates}
    for local in rule:
        start = local.replace(tzinfo=VN_TZ).astimezone(UTC)
        if start not in excluded:
            yield start


def _normalize(text: str) -> str:
    rule = text.strip().upper().removeprefix("RRULE:")
    if not rule:
        raise RecurrenceError("Quy tắc lặp lại đang để trống.")
    if "\n" in rule or "\r" in rule:
        raise RecurrenceError("Quy tắc lặp lại chỉ được gồm một dòng RRULE.")
    return rule


def _local_rule(rule: str, local_start: datetime) -> Any:
    """Build the dateutil rule over naive local time, its UNTIL turned into local time too."""
    parts: dict[str, str] = {}
    for item in rule.split(";"):
        key, sep, value = item.partition("=")
        if not (key and sep and value):
            raise RecurrenceError(
                f"Quy tắc lặp lại không hợp lệ: “{item}” không có dạng TÊN=GIÁ_TRỊ."
            )
        if key in parts:
            raise RecurrenceError(f"Quy tắc lặp lại không hợp lệ: {key} xuất hiện hai lần.")
        parts[key] = value
    _check_parts(parts)
    if "UNTIL" in parts:
        parts["UNTIL"] = _local_until(parts["UNTIL"])
    try:
        return rrulestr(";".join(f"{k}={v}" for k, v in parts.items()), dtstart=local_start)
    except (ValueError, TypeError) as e:
        raise RecurrenceError(f"Quy tắc lặp lại không hợp lệ: {rule} ({e}).") from e


def _check_parts(parts: dict[str, str]) -> None:
    """Refuse what would make the expansion useless or endless before dateutil sees it (a rule
    that never yields sends dateutil day by day to the year 9999)."""
    frequency = parts.get("FREQ")
    if frequency not in _SETPOS_REACH:
        raise RecurrenceError(
            "Quy tắc lặp lại không hợp lệ: phiên tiếp chỉ lặp theo ngày, tuần, tháng hoặc năm "
            "(FREQ=DAILY, WEEKLY, MONTHLY hoặc YEARLY)."
        )
    for key in sorted(parts.keys() - _PARTS)[:1]:
        why = "giờ của phiên lấy theo giờ bắt đầu" if key in _SUB_DAILY else "lịch không dùng"
        raise RecurrenceError(f"Quy tắc lặp lại không hợp lệ: không hỗ trợ {key} ({why}).")
    if "COUNT" in parts and "UNTIL" in parts:
        raise RecurrenceError("Quy tắc lặp lại không được có đồng thời COUNT và UNTIL.")
    for key in ("INTERVAL", "COUNT"):
        if key in parts and _numbers(parts, key)[0] < 1:
            raise RecurrenceError(f"Quy tắc lặp lại không hợp lệ: {key} phải từ 1 trở lên.")
    reach = _SETPOS_REACH[frequency]
    if "BYSETPOS" in parts:
        if not reach:
            raise RecurrenceError(
                "Quy tắc lặp lại không hợp lệ: BYSETPOS chỉ dùng với FREQ=WEEKLY, MONTHLY "
                "hoặc YEARLY."
            )
        if any(not 1 <= abs(n) <= reach for n in _numbers(parts, "BYSETPOS")):
            raise RecurrenceError(
                f"Quy tắc lặp lại không hợp lệ: với FREQ={frequency}, BYSETPOS phải từ 1 đến "
                f"{reach} hoặc từ -{reach} đến -1."
            )
    if "BYMONTHDAY" in parts:
        months = _numbers(parts, "BYMONTH") if "BYMONTH" in parts else list(range(1, 13))
        longest = max((_MONTH_DAYS[m - 1] for m in months if 1 <= m <= 12), default=31)
        for day in _numbers(parts, "BYMONTHDAY"):
            if abs(day) > longest:
                in_months = ", ".join(str(m) for m in months)
                raise RecurrenceError(
                    f"Quy tắc lặp lại không bao giờ xảy ra: tháng {in_months} không có ngày "
                    f"{day} (BYMONTHDAY={day})."
                )


def _numbers(parts: dict[str, str], key: str) -> list[int]:
    try:
        return [int(v) for v in parts[key].split(",")]
    except ValueError as e:
        raise RecurrenceError(
            f"Quy tắc lặp lại không hợp lệ: {key}={parts[key]} phải là số nguyên."
        ) from e


def _local_until(value: str) -> str:
    # dateutil refuses a UTC UNTIL with a naive DTSTART, and Google always writes UTC.
    match = _UNTIL.fullmatch(value)
    try:
        if match is None:
            raise ValueError(value)
        day, time, utc = match.groups()
        if time is None:
            # A date alone includes that whole (local) day.
            return datetime.strptime(f"{day}T235959", _ICAL_DATETIME).strftime(_ICAL_DATETIME)
        until = datetime.strptime(f"{day}T{time}", _ICAL_DATETIME)
    except ValueError as e:
        raise RecurrenceError(
            f"Quy tắc lặp lại không hợp lệ: UNTIL={value} không phải ngày giờ (YYYYMMDDTHHMMSSZ)."
        ) from e
    if utc:
        until = until.replace(tzinfo=UTC).astimezone(VN_TZ).replace(tzinfo=None)
    return until.strftime(_ICAL_DATETIME)
