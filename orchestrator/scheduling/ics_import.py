"""Sessions from an .ics file exported by Outlook or Google Calendar.

The file is read line by line here rather than handed whole to ``icalendar.Calendar.from_ical``,
because an office clerk fixing a file needs to know *which line* is wrong and icalendar does not
say. icalendar still parses each content line (parameters, quoting, escapes) and resolves zone
names, Windows ones included ("SE Asia Standard Time", which Outlook writes for Vietnam).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from icalendar.parser import Contentline
from icalendar.prop import vDuration, vUTCOffset
from icalendar.timezone import tzp

from orchestrator.core.timezone import VN_TZ, format_local
from orchestrator.scheduling.recurrence import Recurrence, RecurrenceError, validate_rrule

_LINE_BREAK = re.compile(r"\r\n|\n|\r")
# Counted on the raw bytes, whichever of CRLF, LF or CR ends the lines (as _LINE_BREAK reads them).
_VEVENT_BEGIN = re.compile(rb"(?:^|[\r\n])BEGIN:VEVENT[ \t]*(?=[\r\n]|$)", re.IGNORECASE)
# Parsing a content line is the slow part (icalendar's parser, ~0.2 ms a line): a file may hold
# this many (unfolded) lines per event it may hold, far more than any calendar app writes.
LINES_PER_EVENT = 100
# Held as the session's ical_uid (an overridden occurrence's UID gets "/YYYYMMDDTHHMMSSZ").
_MAX_UID = 200
# Properties that change which occurrences there are, and that sessions cannot follow: refused
# by name rather than silently dropped.
_UNSUPPORTED = {
    "RDATE": "ngày lặp bổ sung (RDATE) chưa được hỗ trợ; hãy ghi mỗi ngày đó thành một sự kiện "
    "riêng",
    "EXRULE": "quy tắc loại trừ (EXRULE) đã bị RFC 5545 bỏ và không được hỗ trợ; hãy dùng EXDATE",
}
_DATETIME = re.compile(r"(\d{8}T\d{6})(Z?)")
_DATE = re.compile(r"\d{8}")


class IcsImportError(ValueError):
    """An .ics file that cannot be imported; ``str()`` is the Vietnamese message naming the line.

    Attributes:
        line: the 1-based line of the original file, or ``None`` when no line is to blame.
        message: what is wrong, in Vietnamese.
    """

    def __init__(self, line: int | None, message: str) -> None:
        where = f" ở dòng {line}" if line is not None else ""
        super().__init__(f"Tệp ICS không hợp lệ{where}: {message}")
        self.line = line
        self.message = message


class TooManyEvents(ValueError):
    """An .ics file with more events than one import may hold; ``str()`` says so in Vietnamese.

    Attributes:
        count: how many events the file holds.
        cap: the most one import may hold.
    """

    def __init__(self, count: int, cap: int) -> None:
        super().__init__(
            f"Tệp ICS có {count} sự kiện, vượt giới hạn {cap} sự kiện mỗi lần nhập. "
            "Hãy chia lịch thành nhiều tệp nhỏ hơn."
        )
        self.count = count
        self.cap = cap


@dataclass(frozen=True)
class ImportedEvent:
    """An event of the file, ready to become a session.

    Attributes:
        uid: the event's UID (an overridden occurrence gets ``UID/RECURRENCE-ID``).
        summary: the title.
        description: the description, unescaped.
        location: the location.
        start: when it starts, in UTC.
        end: when it ends, in UTC.
        recurrence: how it repeats, or ``None``.
    """

    uid: str
    summary: str
    description: str
    location: str
    start: datetime
    end: datetime
    recurrence: Recurrence | None


@dataclass(frozen=True)
class _Property:
    name: str
    params: Mapping[str, str]
    value: str
    line: int


@dataclass(frozen=True)
class _Component:
    name: str
    line: int
    properties: list[_Property] = field(default_factory=list)
    children: list[_Component] = field(default_factory=list)

    def get(self, name: str) -> _Property | None:
        return next((p for p in self.properties if p.name == name), None)

    def text(self, name: str) -> str:
        prop = self.get(name)
        return "" if prop is None else prop.value


def parse_ics(data: bytes, max_events: int) -> list[ImportedEvent]:
    """Read the events of an iCalendar file.

    Args:
        data: the file's bytes (UTF-8, as both Outlook and Google write).
        max_events: the most VEVENTs the file may hold; counted before anything is parsed.

    Returns:
        The events in file order; cancelled events are left out. A moved occurrence of a
        recurring event becomes an event of its own, and its original time an EXDATE of the
        series.

    Raises:
        TooManyEvents: the file holds more than ``max_events`` events.
        IcsImportError: more than :data:`LINES_PER_EVENT` lines per event it may hold.
        IcsImportError: the file is malformed or holds an event that cannot be a session
            (all-day, no end, ending before it starts, unknown time zone, invalid RRULE,
            RDATE or EXRULE, a UID over 200 characters).
    """
    count = len(_VEVENT_BEGIN.findall(data))
    if count > max_events:
        raise TooManyEvents(count, max_events)
    lines = _content_lines(_decode(data))
    if len(lines) > LINES_PER_EVENT * max_events:
        raise IcsImportError(
            None,
            f"tệp có {len(lines)} dòng, vượt giới hạn {LINES_PER_EVENT * max_events} dòng "
            f"({LINES_PER_EVENT} dòng cho mỗi sự kiện được phép nhập).",
        )
    calendar = _read_tree(lines)
    zones = _file_zones(calendar)
    vevents = [c for c in calendar.children if c.name == "VEVENT"]
    moved: dict[str, list[datetime]] = {}
    for vevent in vevents:
        recurrence_id = vevent.get("RECURRENCE-ID")
        if recurrence_id is not None:
            moved.setdefault(vevent.text("UID"), []).append(_datetime(recurrence_id, zones))
    events: dict[str, ImportedEvent] = {}
    for vevent in vevents:
        if vevent.text("STATUS").upper() != "CANCELLED":
            event = _event(vevent, zones, tuple(moved.get(vevent.text("UID"), ())))
            if event.uid in events:
                # The UID is what a re-import recognizes an event by: it must name one.
                raise IcsImportError(vevent.line, f"UID “{event.uid}” đã có ở một sự kiện khác.")
            events[event.uid] = event
    return list(events.values())


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        # Everything before the bad byte decodes: count its lines the way _content_lines does.
        line = len(_LINE_BREAK.split(data[: e.start].decode("utf-8")))
        raise IcsImportError(
            line, "tệp không phải văn bản UTF-8; hãy xuất lại lịch với mã hóa UTF-8."
        ) from e
    return text.removeprefix("\ufeff")


def _content_lines(text: str) -> list[tuple[int, str]]:
    """Unfold (RFC 5545 §3.1), keeping each logical line's first physical line number."""
    lines: list[tuple[int, str]] = []
    for number, raw in enumerate(_LINE_BREAK.split(text), start=1):
        if raw[:1] in (" ", "\t") and lines:
            lines[-1] = (lines[-1][0], lines[-1][1] + raw[1:])
        elif raw.strip():
            lines.append((number, raw))
    return lines


def _read_tree(lines: list[tuple[int, str]]) -> _Component:
    if not lines or lines[0][1].strip().upper() != "BEGIN:VCALENDAR":
        raise IcsImportError(
            lines[0][0] if lines else None, "tệp phải bắt đầu bằng BEGIN:VCALENDAR."
        )
    root: _Component | None = None
    stack: list[_Component] = []
    for number, text in lines:
        if root is not None and not stack:
            raise IcsImportError(number, "còn nội dung sau END:VCALENDAR.")
        try:
            name, params, value = Contentline(text).parts()  # type: ignore[no-untyped-call]
        except ValueError as e:
            problem = "thiếu dấu ':' giữa tên và giá trị" if ":" not in text else "sai cú pháp"
            raise IcsImportError(number, f"dòng “{text[:60]}” {problem}.") from e
        name = name.upper()
        if name == "BEGIN":
            component = _Component(value.strip().upper(), number)
            if stack:
                stack[-1].children.append(component)
            else:
                root = component
            stack.append(component)
        elif name == "END":
            if value.strip().upper() != stack[-1].name:
                opened = stack[-1]
                raise IcsImportError(
                    number,
                    f"END:{value} không khớp với BEGIN:{opened.name} ở dòng {opened.line}.",
                )
            stack.pop()
        else:
            flat = {k.upper(): v if isinstance(v, str) else ",".join(v) for k, v in params.items()}
            stack[-1].properties.append(_Property(name, flat, value, number))
    if stack:
        raise IcsImportError(stack[-1].line, f"BEGIN:{stack[-1].name} không có END tương ứng.")
    assert root is not None  # the first line is BEGIN:VCALENDAR
    return root


def _file_zones(calendar: _Component) -> dict[str, tzinfo]:
    """The file's own VTIMEZONEs with a single offset, for zone names no database knows."""
    zones: dict[str, tzinfo] = {}
    for vtimezone in (c for c in calendar.children if c.name == "VTIMEZONE"):
        offsets = {c.text("TZOFFSETTO") for c in vtimezone.children}
        if len(offsets) == 1 and (tzid := vtimezone.text("TZID")):
            try:
                offset = vUTCOffset.from_ical(offsets.pop())  # type: ignore[no-untyped-call]
            except ValueError:
                continue  # an unusable definition: the zone name may still be known
            zones[tzid] = timezone(offset)
    return zones


def _zone(prop: _Property, tzid: str, zones: Mapping[str, tzinfo]) -> tzinfo:
    # icalendar knows IANA and Windows names ("SE Asia Standard Time"); else the file's own.
    known: tzinfo | None = tzp.timezone(tzid)
    zone = known or zones.get(tzid)
    if zone is None:
        raise IcsImportError(prop.line, f"không nhận ra múi giờ TZID={tzid}.")
    return zone


def _datetime(prop: _Property, zones: Mapping[str, tzinfo], value: str | None = None) -> datetime:
    value = (prop.value if value is None else value).strip()
    if prop.params.get("VALUE", "").upper() == "DATE" or _DATE.fullmatch(value):
        raise IcsImportError(
            prop.line,
            f"{prop.name} chỉ có ngày, không có giờ; sự kiện cả ngày không nhập được vì phiên "
            "tiếp cần giờ bắt đầu và giờ kết thúc.",
        )
    match = _DATETIME.fullmatch(value)
    try:
        if match is None:
            raise ValueError(value)
        naive = datetime.strptime(match[1], "%Y%m%dT%H%M%S")
    except ValueError as e:
        raise IcsImportError(
            prop.line, f"{prop.name} “{value}” không phải ngày giờ hợp lệ (YYYYMMDDTHHMMSS)."
        ) from e
    if match[2]:
        return naive.replace(tzinfo=UTC)
    tzid = prop.params.get("TZID")
    # A floating time (no zone) is read as Vietnamese time: that is what the sender meant.
    zone = VN_TZ if tzid is None else _zone(prop, tzid, zones)
    return naive.replace(tzinfo=zone).astimezone(UTC)


def _event(
    vevent: _Component, zones: Mapping[str, tzinfo], moved: tuple[datetime, ...]
) -> ImportedEvent:
    start_prop, end_prop, duration_prop = (vevent.get(n) for n in ("DTSTART", "DTEND", "DURATION"))
    if start_prop is None:
        raise IcsImportError(vevent.line, "sự kiện thiếu DTSTART.")
    start = _datetime(start_prop, zones)
    if end_prop is not None:
        end = _datetime(end_prop, zones)
    elif duration_prop is not None:
        end_prop = duration_prop
        try:
            duration: timedelta = vDuration.from_ical(duration_prop.value)  # type: ignore[no-untyped-call]
        except ValueError as e:
            raise IcsImportError(
                duration_prop.line, f"DURATION “{duration_prop.value}” không hợp lệ."
            ) from e
        end = start + duration
    else:
        raise IcsImportError(vevent.line, "sự kiện thiếu DTEND hoặc DURATION.")
    if end <= start:
        raise IcsImportError(
            end_prop.line,
            f"thời điểm kết thúc ({format_local(end)}) không sau thời điểm bắt đầu "
            f"({format_local(start)}).",
        )
    uid = vevent.text("UID")
    if not uid:
        raise IcsImportError(vevent.line, "sự kiện thiếu UID.")
    if len(uid) > _MAX_UID:
        raise IcsImportError(vevent.line, f"UID dài quá {_MAX_UID} ký tự.")
    for prop in vevent.properties:
        if prop.name in _UNSUPPORTED:
            raise IcsImportError(prop.line, _UNSUPPORTED[prop.name] + ".")
    recurrence_id = vevent.get("RECURRENCE-ID")
    if recurrence_id is not None:
        uid = f"{uid}/{_datetime(recurrence_id, zones):%Y%m%dT%H%M%SZ}"
    return ImportedEvent(
        uid=uid,
        summary=vevent.text("SUMMARY"),
        description=vevent.text("DESCRIPTION"),
        location=vevent.text("LOCATION"),
        start=start,
        end=end,
        recurrence=_recurrence(vevent, zones, moved),
    )


def _recurrence(
    vevent: _Component, zones: Mapping[str, tzinfo], moved: tuple[datetime, ...]
) -> Recurrence | None:
    rrule = vevent.get("RRULE")
    if rrule is None or vevent.get("RECURRENCE-ID") is not None:
        return None
    try:
        rule = validate_rrule(rrule.value)
    except RecurrenceError as e:
        raise IcsImportError(rrule.line, e.message_vi) from e
    exdates = tuple(
        _datetime(prop, zones, value)
        for prop in vevent.properties
        if prop.name == "EXDATE"
        for value in prop.value.split(",")
    )
    return Recurrence(rule, exdates + moved)
