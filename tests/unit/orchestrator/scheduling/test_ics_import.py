"""Importing .ics files from Google Calendar and Outlook, and naming the line of every fault."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.scheduling.ics_import import (
    LINES_PER_EVENT,
    IcsImportError,
    ImportedEvent,
    TooManyEvents,
    parse_ics,
)
from orchestrator.scheduling.recurrence import Recurrence, expand


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode("utf-8")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


GOOGLE = """\
BEGIN:VCALENDAR
PRODID:-//Google Inc//Google Calendar 70.9054//EN
VERSION:2.0
CALSCALE:GREGORIAN
METHOD:PUBLISH
X-WR-CALNAME:Tiếp công dân tỉnh Quảng Trị
X-WR-TIMEZONE:Asia/Ho_Chi_Minh
BEGIN:VTIMEZONE
TZID:Asia/Ho_Chi_Minh
X-LIC-LOCATION:Asia/Ho_Chi_Minh
BEGIN:STANDARD
TZOFFSETFROM:+0700
TZOFFSETTO:+0700
TZNAME:GMT+7
DTSTART:19700101T000000
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
DTSTART:20260115T010000Z
DTEND:20260115T040000Z
EXDATE:20260615T010000Z
RRULE:FREQ=MONTHLY;UNTIL=20261215T010000Z;BYMONTHDAY=15
DTSTAMP:20251201T020000Z
UID:5g3f1k2m9q8r7s6t5u4v3w2x1y@google.com
CREATED:20251120T031500Z
DESCRIPTION:Tiếp công dân định kỳ của Chủ tịch UBND tỉnh.\\nĐiểm cầu: các
  xã trong tỉnh.
LAST-MODIFIED:20251201T020000Z
LOCATION:Trụ sở Ban Tiếp công dân tỉnh\\, 1 Hùng Vương
SEQUENCE:0
STATUS:CONFIRMED
SUMMARY:Tiếp công dân định kỳ tháng
TRANSP:OPAQUE
END:VEVENT
BEGIN:VEVENT
DTSTART:20260320T020000Z
DTEND:20260320T050000Z
DTSTAMP:20251201T020000Z
UID:5g3f1k2m9q8r7s6t5u4v3w2x1y@google.com
RECURRENCE-ID:20260315T010000Z
SEQUENCE:1
STATUS:CONFIRMED
SUMMARY:Tiếp công dân định kỳ tháng (dời lịch)
END:VEVENT
BEGIN:VEVENT
DTSTART:20260402T010000Z
DTEND:20260402T030000Z
DTSTAMP:20251201T020000Z
UID:0a1b2c3d4e5f@google.com
STATUS:CANCELLED
SUMMARY:Phiên đã hủy
END:VEVENT
END:VCALENDAR
"""

OUTLOOK = """\
BEGIN:VCALENDAR
PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN
VERSION:2.0
METHOD:PUBLISH
X-MS-OLK-FORCEINSPECTOROPEN:TRUE
BEGIN:VTIMEZONE
TZID:SE Asia Standard Time
BEGIN:STANDARD
DTSTART:16010101T000000
TZOFFSETFROM:+0700
TZOFFSETTO:+0700
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
CLASS:PUBLIC
CREATED:20251125T083012Z
DESCRIPTION:Phiên tiếp công dân thường xuyên của Ban Tiếp công dân xã Cam L
 ộ. Công dân mang theo CCCD và hồ sơ khiếu nại\\, tố cáo\\, kiến nghị\\, phản
  ánh.\\n
DTEND;TZID="SE Asia Standard Time":20260107T113000
DTSTAMP:20251125T083012Z
DTSTART;TZID="SE Asia Standard Time":20260107T080000
EXDATE;TZID="SE Asia Standard Time":20260204T080000,20260211T080000
LAST-MODIFIED:20251125T083012Z
LOCATION:Hội trường UBND xã Cam Lộ
PRIORITY:5
RRULE:FREQ=WEEKLY;COUNT=10;BYDAY=WE
SEQUENCE:0
SUMMARY;LANGUAGE=vi:Tiếp công dân thường xuyên
TRANSP:OPAQUE
UID:040000008200E00074C5B7101A82E00800000000A0B1C2D3E4F5D9010000000000000000100
 00000ABCDEF
X-MICROSOFT-CDO-BUSYSTATUS:BUSY
BEGIN:VALARM
TRIGGER:-PT15M
ACTION:DISPLAY
DESCRIPTION:Reminder
END:VALARM
END:VEVENT
END:VCALENDAR
"""


def test_google_calendar_export() -> None:
    master, moved = parse_ics(crlf(GOOGLE), 100)
    assert master == ImportedEvent(
        uid="5g3f1k2m9q8r7s6t5u4v3w2x1y@google.com",
        summary="Tiếp công dân định kỳ tháng",
        description="Tiếp công dân định kỳ của Chủ tịch UBND tỉnh.\nĐiểm cầu: các xã trong tỉnh.",
        location="Trụ sở Ban Tiếp công dân tỉnh, 1 Hùng Vương",
        start=utc(2026, 1, 15, 1),
        end=utc(2026, 1, 15, 4),
        recurrence=Recurrence(
            "FREQ=MONTHLY;UNTIL=20261215T010000Z;BYMONTHDAY=15",
            # The EXDATE, then the original time of the moved occurrence.
            exdates=(utc(2026, 6, 15, 1), utc(2026, 3, 15, 1)),
        ),
    )
    assert master.start.tzinfo is UTC
    assert master.recurrence is not None
    series = expand(
        master.start, master.end - master.start, master.recurrence, utc(2026, 1, 1), utc(2027, 1, 1)
    )
    # June is excluded, March moved out of the series, December 15 is the UNTIL itself.
    assert [o.start.month for o in series] == [1, 2, 4, 5, 7, 8, 9, 10, 11, 12]
    assert moved.uid == "5g3f1k2m9q8r7s6t5u4v3w2x1y@google.com/20260315T010000Z"
    assert (moved.start, moved.end, moved.recurrence) == (
        utc(2026, 3, 20, 2),
        utc(2026, 3, 20, 5),
        None,
    )


def test_outlook_export() -> None:
    [event] = parse_ics(crlf(OUTLOOK), 100)
    assert event.uid == (
        "040000008200E00074C5B7101A82E00800000000A0B1C2D3E4F5D901000000000000000010000000ABCDEF"
    )
    assert event.summary == "Tiếp công dân thường xuyên"
    assert event.description == (
        "Phiên tiếp công dân thường xuyên của Ban Tiếp công dân xã Cam Lộ. Công dân mang theo "
        "CCCD và hồ sơ khiếu nại, tố cáo, kiến nghị, phản ánh.\n"
    )
    assert event.location == "Hội trường UBND xã Cam Lộ"
    # "SE Asia Standard Time" is +07:00: 08:00 local is 01:00Z.
    assert (event.start, event.end) == (utc(2026, 1, 7, 1), utc(2026, 1, 7, 4, 30))
    assert event.recurrence == Recurrence(
        "FREQ=WEEKLY;COUNT=10;BYDAY=WE", exdates=(utc(2026, 2, 4, 1), utc(2026, 2, 11, 1))
    )


@pytest.mark.parametrize(
    ("dtstart", "expected"),
    [
        ("DTSTART:20260107T080000", utc(2026, 1, 7, 1)),  # floating: Vietnamese time
        ("DTSTART;TZID=Asia/Ho_Chi_Minh:20260107T080000", utc(2026, 1, 7, 1)),
        ("DTSTART;TZID=Asia/Bangkok:20260107T080000", utc(2026, 1, 7, 1)),
        ("DTSTART;TZID=Europe/Berlin:20260107T080000", utc(2026, 1, 7, 7)),
        ("DTSTART:20260107T080000Z", utc(2026, 1, 7, 8)),
        # Names only the file's own VTIMEZONEs define (Exchange writes the display name).
        ("DTSTART;TZID=Giờ Hà Nội:20260107T080000", utc(2026, 1, 7, 1)),
        ('DTSTART;TZID="(UTC+07:00) Bangkok, Hanoi, Jakarta":20260107T080000', utc(2026, 1, 7, 1)),
    ],
)
def test_time_zones_and_duration(dtstart: str, expected: datetime) -> None:
    data = f"""\
BEGIN:VCALENDAR
VERSION:2.0
BEGIN:VTIMEZONE
TZID:Giờ Hà Nội
BEGIN:STANDARD
DTSTART:19700101T000000
TZOFFSETFROM:+0700
TZOFFSETTO:+0700
END:STANDARD
END:VTIMEZONE
BEGIN:VTIMEZONE
TZID:(UTC+07:00) Bangkok, Hanoi, Jakarta
BEGIN:STANDARD
DTSTART:16010101T000000
TZOFFSETFROM:+0700
TZOFFSETTO:+0700
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
UID:mot-lan@example.vn
{dtstart}
DURATION:PT2H30M
SUMMARY:Tiếp đột xuất
END:VEVENT
END:VCALENDAR
"""
    [event] = parse_ics(data.encode(), 100)
    assert event.start == expected
    assert event.end == expected + timedelta(hours=2, minutes=30)
    assert event.recurrence is None


def vevent(*lines: str) -> bytes:
    """A calendar whose one event (lines 3 onward) has ``lines``; handy for numbering."""
    body = "\n".join(("BEGIN:VCALENDAR", "VERSION:2.0", "BEGIN:VEVENT", *lines, "END:VEVENT"))
    return crlf(body + "\nEND:VCALENDAR\n")


GOOD = ("UID:x@example.vn", "DTSTART:20260107T010000Z", "DTEND:20260107T040000Z")

MALFORMED = [
    pytest.param(b"BEGIN:VEVENT\r\nEND:VEVENT\r\n", 1, "BEGIN:VCALENDAR", id="no-vcalendar"),
    pytest.param(b"\r\n\r\nVERSION:2.0\r\n", 3, "BEGIN:VCALENDAR", id="no-vcalendar-after-blanks"),
    pytest.param(b"", None, "BEGIN:VCALENDAR", id="empty"),
    pytest.param(
        crlf("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nEND:VCALENDAR\n"),
        4,
        "END:VCALENDAR không khớp với BEGIN:VEVENT ở dòng 2",
        id="end-mismatch",
    ),
    pytest.param(vevent(*GOOD, "RDATE:20260109T010000Z"), 7, "RDATE", id="rdate"),
    pytest.param(vevent(*GOOD, "EXRULE:FREQ=WEEKLY"), 7, "EXRULE", id="exrule"),
    pytest.param(vevent("UID:" + "u" * 201, *GOOD[1:]), 3, "UID dài quá 200", id="long-uid"),
    pytest.param(
        vevent(*GOOD, "END:VEVENT", "BEGIN:VEVENT", *GOOD),
        8,
        "UID “x@example.vn” đã có ở một sự kiện khác",
        id="duplicate-uid",
    ),
    pytest.param(
        crlf("BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:x\n"),
        3,
        "BEGIN:VEVENT không có END",
        id="truncated",
    ),
    pytest.param(
        vevent(*GOOD) + b"BEGIN:VCALENDAR\r\n", 9, "sau END:VCALENDAR", id="trailing-content"
    ),
    pytest.param(vevent(*GOOD, "SUMMARY Tiếp công dân"), 7, "thiếu dấu ':'", id="no-colon"),
    pytest.param(
        vevent("UID:x", "DESCRIPTION:dòng dài", " tiếp theo", " nữa", "DTSTART 2026", *GOOD[1:]),
        8,
        "thiếu dấu ':'",
        id="no-colon-after-folded-line",
    ),
    pytest.param(
        vevent("UID:x", "DTSTART:20261315T080000", "DTEND:20261215T110000"),
        5,
        "DTSTART “20261315T080000” không phải ngày giờ",
        id="bad-dtstart",
    ),
    pytest.param(
        vevent(*GOOD[:2], "DTEND;TZID=Asia/Ho_Chi_Minh:tomorrow"),
        6,
        "DTEND “tomorrow” không phải ngày giờ",
        id="bad-dtend",
    ),
    pytest.param(
        vevent(*GOOD[:2], "DTEND:20260107T000000Z"),
        6,
        "kết thúc (07:00 ngày 07/01/2026) không sau thời điểm bắt đầu (08:00 ngày 07/01/2026)",
        id="dtend-before-dtstart",
    ),
    pytest.param(
        vevent(*GOOD[:2], "DURATION:-PT1H"),
        6,
        "không sau thời điểm bắt đầu",
        id="negative-duration",
    ),
    pytest.param(vevent(*GOOD[:2], "DURATION:3h"), 6, "DURATION “3h”", id="bad-duration"),
    pytest.param(vevent(*GOOD[:2]), 3, "thiếu DTEND hoặc DURATION", id="no-end"),
    pytest.param(vevent("UID:x", "DTEND:20260107T040000Z"), 3, "thiếu DTSTART", id="no-start"),
    pytest.param(vevent(*GOOD[1:]), 3, "thiếu UID", id="no-uid"),
    pytest.param(
        vevent("UID:x", "DTSTART;VALUE=DATE:20260107", "DTEND;VALUE=DATE:20260108"),
        5,
        "DTSTART chỉ có ngày, không có giờ; sự kiện cả ngày không nhập được",
        id="all-day",
    ),
    pytest.param(
        vevent("UID:x", "DTSTART;TZID=Mars/Olympus:20260107T080000", "DTEND:20260107T040000Z"),
        5,
        "không nhận ra múi giờ TZID=Mars/Olympus",
        id="unknown-tzid",
    ),
    pytest.param(
        vevent(*GOOD, "RRULE:FREQ=WEEKLY;BYDAY=XX"),
        7,
        "Quy tắc lặp lại không hợp lệ",
        id="bad-rrule",
    ),
    pytest.param(
        vevent(*GOOD, "RRULE:FREQ=DAILY", "EXDATE:20260108"),
        8,
        "EXDATE chỉ có ngày",
        id="all-day-exdate",
    ),
    pytest.param(
        crlf("BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:x\n")
        + "SUMMARY:Công dân\r\n".encode("cp1258")
        + crlf("END:VEVENT\nEND:VCALENDAR\n"),
        5,
        "UTF-8",
        id="not-utf8",
    ),
]


@pytest.mark.parametrize(("data", "line", "message"), MALFORMED)
def test_malformed_files_name_the_line(data: bytes, line: int | None, message: str) -> None:
    with pytest.raises(IcsImportError) as caught:
        parse_ics(data, 100)
    error = caught.value
    assert error.line == line
    assert message in error.message
    where = f" ở dòng {line}" if line is not None else ""
    assert str(error) == f"Tệp ICS không hợp lệ{where}: {error.message}"


def test_the_good_event_of_the_malformed_cases_imports() -> None:
    # Guards the table above: each case is broken by its own change, not by the template.
    [event] = parse_ics(vevent(*GOOD), 100)
    assert (event.start, event.end) == (utc(2026, 1, 7, 1), utc(2026, 1, 7, 4))


def test_events_beyond_the_cap_are_refused_before_parsing() -> None:
    # The third event is broken: the count refuses the file before anything is parsed.
    data = vevent(*GOOD, "END:VEVENT", "begin:vevent ", "END:VEVENT", "BEGIN:VEVENT", "broken")
    for line_break in (b"\r\n", b"\n", b"\r"):
        with pytest.raises(TooManyEvents, match="có 3 sự kiện, vượt giới hạn 2 sự kiện") as caught:
            parse_ics(data.replace(b"\r\n", line_break), 2)
        assert (caught.value.count, caught.value.cap) == (3, 2)


def test_more_lines_than_the_events_allowed_may_have_are_refused_before_parsing() -> None:
    padding = [f"X-PAD-{i}:y" for i in range(LINES_PER_EVENT * 2)]
    with pytest.raises(IcsImportError, match=f"vượt giới hạn {LINES_PER_EVENT * 2} dòng"):
        parse_ics(vevent(*GOOD, *padding), 2)
    assert len(parse_ics(vevent(*GOOD, *padding[:-10]), 2)) == 1


def test_lf_only_and_a_byte_order_mark_are_accepted() -> None:
    data = b"\xef\xbb\xbf" + vevent(*GOOD).replace(b"\r\n", b"\n")
    assert [e.uid for e in parse_ics(data, 100)] == ["x@example.vn"]
