"""The ICS feed, read back by two independent parsers: icalendar and vobject."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import icalendar
import pytest
import vobject  # the second, independent parser

from orchestrator.core.timezone import VN_TZ
from orchestrator.scheduling.calendar_feed import PRODID, FeedEvent, occurrence_uid, render_feed

NOW = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)
MONTHLY = datetime(2026, 12, 15, 1, 0, tzinfo=UTC)  # 08:00 in Hà Nội
LINK = "https://tiepdan.example.vn/vao-phien/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI3In0.c2lnbmF0dXJl"

EVENTS = [
    FeedEvent(
        uid=occurrence_uid(42, MONTHLY),
        sequence=3,
        start=MONTHLY,
        end=MONTHLY + timedelta(hours=3),
        summary="Tiếp công dân định kỳ của Chủ tịch UBND tỉnh",
        description="Nội dung: khiếu nại, tố cáo, kiến nghị, phản ánh; điểm cầu các xã.",
        location="Trụ sở Ban Tiếp công dân tỉnh Quảng Trị",
        url=LINK,
        cancelled=False,
        last_modified=datetime(2026, 11, 1, tzinfo=UTC),
    ),
    FeedEvent(
        uid=occurrence_uid(43, datetime(2027, 1, 5, 2, 30, tzinfo=UTC)),
        sequence=1,
        # Given in another zone on purpose: the feed converts.
        start=datetime(2027, 1, 5, 9, 30, tzinfo=timezone(timedelta(hours=7))),
        end=datetime(2027, 1, 5, 4, 0, tzinfo=UTC),
        summary="Tiếp công dân thường xuyên — xã Đông Hà",
        description="",
        location="",
        url=LINK + "x",
        cancelled=True,
        last_modified=datetime(2026, 12, 30, tzinfo=UTC),
    ),
]


@pytest.fixture(scope="module")
def document() -> bytes:
    return render_feed("Lịch tiếp công dân — Nguyễn Văn Ánh", EVENTS, NOW)


def test_occurrence_uid_is_the_utc_start() -> None:
    local = datetime(2026, 12, 15, 8, 0, tzinfo=VN_TZ)
    assert occurrence_uid(42, local) == "session-42-20261215T010000Z@tiepdan"
    with pytest.raises(ValueError, match="naive"):
        occurrence_uid(42, datetime(2026, 12, 15, 8))


def test_calendar_properties(document: bytes) -> None:
    calendar = icalendar.Calendar.from_ical(document)
    assert str(calendar["PRODID"]) == PRODID
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["CALSCALE"]) == "GREGORIAN"
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert str(calendar["X-WR-CALNAME"]) == "Lịch tiếp công dân — Nguyễn Văn Ánh"
    assert str(calendar["X-WR-TIMEZONE"]) == "Asia/Ho_Chi_Minh"
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Asia/Ho_Chi_Minh"]
    assert calendar.get_missing_tzids() == set()
    assert b"DTSTART;TZID=Asia/Ho_Chi_Minh:20261215T080000\r\n" in document


@pytest.mark.parametrize("index", range(len(EVENTS)))
def test_icalendar_reads_back_every_event(document: bytes, index: int) -> None:
    expected = EVENTS[index]
    vevent = icalendar.Calendar.from_ical(document).walk("VEVENT")[index]
    assert str(vevent["UID"]) == expected.uid
    assert vevent.decoded("DTSTART") == expected.start
    assert vevent.decoded("DTEND") == expected.end
    assert vevent.decoded("DTSTAMP") == NOW
    assert vevent.decoded("LAST-MODIFIED") == expected.last_modified
    assert vevent.decoded("SEQUENCE") == expected.sequence
    assert str(vevent["STATUS"]) == ("CANCELLED" if expected.cancelled else "CONFIRMED")
    assert str(vevent["URL"]) == expected.url
    assert str(vevent["SUMMARY"]) == expected.summary
    assert expected.description in str(vevent["DESCRIPTION"])
    assert f"Vào phiên tiếp: {expected.url}" in str(vevent["DESCRIPTION"])


@pytest.mark.parametrize("index", range(len(EVENTS)))
def test_vobject_reads_back_every_event(document: bytes, index: int) -> None:
    expected = EVENTS[index]
    calendar = vobject.readOne(document.decode("utf-8"))
    assert [tz.tzid.value for tz in calendar.vtimezone_list] == ["Asia/Ho_Chi_Minh"]
    vevent = calendar.vevent_list[index]
    assert vevent.uid.value == expected.uid
    assert vevent.dtstart.value == expected.start
    assert vevent.dtstart.value.utcoffset() == timedelta(hours=7)
    assert vevent.dtend.value == expected.end
    assert int(vevent.sequence.value) == expected.sequence
    assert vevent.status.value == ("CANCELLED" if expected.cancelled else "CONFIRMED")
    assert vevent.url.value == expected.url
    assert vevent.summary.value == expected.summary
    assert f"Vào phiên tiếp: {expected.url}" in vevent.description.value


def test_an_empty_feed_is_still_a_valid_calendar() -> None:
    calendar = icalendar.Calendar.from_ical(render_feed("Trống", [], NOW))
    assert calendar.walk("VEVENT") == []


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        render_feed("x", EVENTS, datetime(2026, 1, 1))
