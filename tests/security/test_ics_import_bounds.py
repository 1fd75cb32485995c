"""Finding 3: an .ics of 50,000 events was accepted and made 50,000 sessions, every re-import
duplicated the file's sessions, ``INTERVAL=0`` made 1,000 sessions at one instant and RDATE was
dropped without a word. An import is capped (body, events, sessions; the answer names the cap),
recognizes its events by UID on the next import, and refuses what it cannot follow by name."""

from __future__ import annotations

import io
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from orchestrator.db.models import ReceptionSession
from orchestrator.scheduling.ics_import import LINES_PER_EVENT
from tests.integration.conftest import World
from tests.integration.test_orchestrator_api import call

pytestmark = pytest.mark.asyncio(loop_scope="session")

FIRST = datetime(2027, 3, 1, 1, 0, tzinfo=UTC)  # a Monday, 08:00 in Hà Nội


def stamp(value: datetime) -> str:
    return f"{value:%Y%m%dT%H%M%SZ}"


def vevent(uid: str, start: datetime, *extra: str, summary: str = "Tiếp công dân") -> str:
    lines = [
        "BEGIN:VEVENT", f"UID:{uid}", f"DTSTAMP:{stamp(FIRST)}", f"DTSTART:{stamp(start)}",
        f"DTEND:{stamp(start + timedelta(hours=3))}", f"SUMMARY:{summary}", *extra, "END:VEVENT",
    ]  # fmt: skip
    return "\r\n".join(lines)


def calendar(*events: str) -> bytes:
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//security//VI\r\n"
    return (head + "\r\n".join(events) + "\r\nEND:VCALENDAR\r\n").encode()


async def import_ics(
    world: World, http: aiohttp.ClientSession, data: bytes
) -> tuple[int, Any, str]:
    path = f"/sessions/import?agency_id={world.agencies['ninh-binh']}"
    # A stream, as aiohttp wants for a large body.
    return await call(http, world, "officer", "POST", path, data=io.BytesIO(data))


async def sessions_of(world: World, uids: list[str]) -> list[ReceptionSession]:
    async with world.db() as db:
        titled = await db.scalars(
            select(ReceptionSession)
            .where(ReceptionSession.title.in_(uids))
            .order_by(ReceptionSession.starts_at, ReceptionSession.id)
        )
        return list(titled)


async def session_count(world: World) -> int:
    async with world.db() as db:
        return int(await db.scalar(select(func.count()).select_from(ReceptionSession)) or 0)


@pytest.mark.parametrize(
    ("build", "status", "named"),
    [
        pytest.param(
            lambda cap, tag: calendar(*(vevent(f"{tag}-{i}", FIRST + timedelta(days=i))
                                        for i in range(cap.import_max_events + 1))),
            422, lambda cap: f"giới hạn {cap.import_max_events} sự kiện", id="events",
        ),
        pytest.param(
            lambda cap, tag: calendar(*(vevent(f"{tag}-{i}", FIRST + timedelta(minutes=i),
                                               "RRULE:FREQ=DAILY")
                                        for i in range(cap.import_max_sessions // 366 + 1))),
            422, lambda cap: f"giới hạn {cap.import_max_sessions} phiên", id="sessions",
        ),
        pytest.param(
            # One event whose (folded) description alone is over the cap.
            lambda cap, tag: calendar(vevent(tag, FIRST, "DESCRIPTION:x"
                                             + "\r\n x" * (cap.import_max_bytes // 4 + 1))),
            413, lambda cap: f"{cap.import_max_bytes // 1024} KiB", id="bytes",
        ),
        pytest.param(
            # Within the byte cap, but lines enough to keep the parser busy for seconds.
            lambda cap, tag: calendar(vevent(tag, FIRST, *(
                f"X-PAD-{i}:y" for i in range(LINES_PER_EVENT * cap.import_max_events)))),
            400,
            lambda cap: f"giới hạn {LINES_PER_EVENT * cap.import_max_events} dòng",
            id="lines",
        ),
    ],
)  # fmt: skip
async def test_an_import_over_a_cap_is_refused_naming_it_and_stores_nothing(
    world: World, http: aiohttp.ClientSession, build: Any, status: int, named: Any
) -> None:
    cap = world.settings.scheduling
    data = build(cap, f"cap-{uuid.uuid4().hex[:8]}")
    before = await session_count(world)
    began = time.monotonic()
    answered, problem, content_type = await import_ics(world, http, data)
    took = time.monotonic() - began
    assert (answered, content_type) == (status, "application/problem+json"), str(problem)[:300]
    assert named(cap) in problem["detail"], problem
    assert took < 5, f"refused after {took:.1f} s"
    assert await session_count(world) == before


async def test_a_reimport_updates_the_sessions_of_the_same_uids(
    world: World, http: aiohttp.ClientSession
) -> None:
    one_off, weekly = f"once-{uuid.uuid4().hex[:8]}", f"weekly-{uuid.uuid4().hex[:8]}"
    first_file = calendar(
        vevent(one_off, FIRST, summary=one_off),
        vevent(weekly, FIRST, "RRULE:FREQ=WEEKLY;COUNT=3", summary=weekly),
    )
    status, created, _ = await import_ics(world, http, first_file)
    assert status == 201, created
    original = {s.id: s.starts_at for s in await sessions_of(world, [one_off, weekly])}
    assert len(original) == 4

    # The same file again: the same sessions, nothing new.
    status, again, _ = await import_ics(world, http, first_file)
    assert status == 201, again
    assert sorted(s["id"] for s in again) == sorted(original)
    assert {s.id: s.starts_at for s in await sessions_of(world, [one_off, weekly])} == original

    # A newer export: the one-off moved an hour later, the series cut to two occurrences.
    later = FIRST + timedelta(hours=1)
    status, changed, _ = await import_ics(world, http, calendar(
        vevent(one_off, later, summary=one_off),
        vevent(weekly, FIRST, "RRULE:FREQ=WEEKLY;COUNT=2", summary=weekly),
    ))  # fmt: skip
    assert status == 201, changed
    rows = await sessions_of(world, [one_off, weekly])
    assert {s.id for s in rows} == set(original)  # updated in place, not duplicated
    moved = next(s for s in rows if s.title == one_off)
    assert (moved.starts_at, moved.sequence) == (later, 1)
    series = [s for s in rows if s.title == weekly]
    assert [s.status for s in series] == ["scheduled", "scheduled", "cancelled"]
    assert series[2].starts_at == FIRST + timedelta(weeks=2)


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ("RRULE:FREQ=DAILY;INTERVAL=0;COUNT=1000", "INTERVAL"),
        ("RDATE:20270305T010000Z", "RDATE"),
        ("RRULE:FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=31", "BYMONTHDAY=31"),
    ],
)
async def test_what_an_import_cannot_follow_is_refused_by_name(
    world: World, http: aiohttp.ClientSession, extra: str, named: str
) -> None:
    before = await session_count(world)
    status, problem, content_type = await import_ics(
        world, http, calendar(vevent(f"odd-{uuid.uuid4().hex[:8]}", FIRST, extra))
    )
    assert (status, content_type) == (400, "application/problem+json"), str(problem)[:300]
    assert named in problem["detail"] and "dòng 10" in problem["detail"], problem
    assert await session_count(world) == before
