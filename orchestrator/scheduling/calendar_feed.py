"""A user's sessions as an iCalendar feed their calendar app subscribes to.

Times are written in Vietnamese wall time with ``TZID=Asia/Ho_Chi_Minh`` and a matching VTIMEZONE,
so every client shows 8:00 for a session at 8:00, whatever zone the reader's device is in. Each
event carries its launch link twice: in URL (for clients that show it) and in DESCRIPTION (for
the many that do not).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache

from icalendar import Calendar, Event, Timezone

from orchestrator.core.timezone import VN_TZ, require_aware

PRODID = "-//tiepdan//Tiep cong dan truc tuyen//VI"
_TZID = "Asia/Ho_Chi_Minh"
# Vietnam has kept +07:00 since 1975; the VTIMEZONE covers any session the system could hold.
_TZ_FIRST = date(2000, 1, 1)
_TZ_LAST = date(2100, 1, 1)


@dataclass(frozen=True)
class FeedEvent:
    """One occurrence of a session, as the feed shows it.

    Attributes:
        uid: stable identity across feed refreshes (see :func:`occurrence_uid`).
        sequence: revision number; raised on every change so clients replace their copy.
        start: when it starts (aware).
        end: when it ends (aware).
        summary: the title.
        description: free text; the launch link is appended to it.
        location: where (the connection point).
        url: the signed launch link.
        cancelled: whether the occurrence was cancelled (kept in the feed so clients drop it).
        last_modified: when it last changed (aware).
    """

    uid: str
    sequence: int
    start: datetime
    end: datetime
    summary: str
    description: str
    location: str
    url: str
    cancelled: bool
    last_modified: datetime


def occurrence_uid(session_id: int, occurrence_start: datetime) -> str:
    """Return the UID of one occurrence of a session, e.g. ``session-42-20261215T010000Z@tiepdan``.

    Args:
        session_id: the session's id.
        occurrence_start: the occurrence's original start (aware); it stays the UID even if
            the occurrence is later moved, so clients update rather than duplicate it.
    """
    start = require_aware(occurrence_start, "occurrence_start").astimezone(UTC)
    return f"session-{session_id}-{start:%Y%m%dT%H%M%SZ}@tiepdan"


def render_feed(calendar_name: str, events: Sequence[FeedEvent], now: datetime) -> bytes:
    """Render the feed.

    Args:
        calendar_name: shown by clients as the calendar's name (X-WR-CALNAME).
        events: the occurrences, in the order to write them.
        now: the time of rendering (aware), written as every event's DTSTAMP.

    Returns:
        The iCalendar document, UTF-8 with CRLF line ends.

    Raises:
        ValueError: a datetime is naive, or an event ends before it starts.
    """
    stamp = require_aware(now, "now").astimezone(UTC)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", calendar_name)
    calendar.add("x-wr-timezone", _TZID)
    calendar.add_component(_vn_timezone())
    for event in events:
        calendar.add_component(_vevent(event, stamp))
    document: bytes = calendar.to_ical()
    return document


@cache
def _vn_timezone() -> Timezone:
    return Timezone.from_tzinfo(VN_TZ, _TZID, first_date=_TZ_FIRST, last_date=_TZ_LAST)


def _vevent(event: FeedEvent, stamp: datetime) -> Event:
    start = require_aware(event.start, "start").astimezone(VN_TZ)
    end = require_aware(event.end, "end").astimezone(VN_TZ)
    if end < start:
        raise ValueError(f"event {event.uid} ends before it starts")
    vevent = Event()
    vevent.add("uid", event.uid)
    vevent.add("sequence", event.sequence)
    vevent.add("dtstamp", stamp)
    vevent.add("last-modified", require_aware(event.last_modified, "last_modified").astimezone(UTC))
    vevent.add("dtstart", start)
    vevent.add("dtend", end)
    vevent.add("summary", event.summary)
    vevent.add("description", _description(event))
    if event.location:
        vevent.add("location", event.location)
    vevent.add("url", event.url)
    vevent.add("status", "CANCELLED" if event.cancelled else "CONFIRMED")
    return vevent


def _description(event: FeedEvent) -> str:
    link = f"Vào phiên tiếp: {event.url}"
    return f"{event.description}\n\n{link}" if event.description else link
