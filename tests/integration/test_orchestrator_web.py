"""Browser-style use of the orchestrator (cookies and CSRF), ICS import, reference data, and the
migrations matching the models — on SQLite and PostgreSQL."""

from __future__ import annotations

import aiohttp
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orchestrator.db.models import AuditEntry, Base, Province
from orchestrator.web.router import API_PREFIX as PREFIX
from tests.form_login import login_form
from tests.integration.conftest import PASSWORD, World
from tests.integration.test_orchestrator_api import call, session_body

GOOGLE_EXPORT = b"""BEGIN:VCALENDAR\r
PRODID:-//Google Inc//Google Calendar 70.9054//EN\r
VERSION:2.0\r
BEGIN:VEVENT\r
DTSTART:20270115T010000Z\r
DTEND:20270115T040000Z\r
RRULE:FREQ=MONTHLY;COUNT=3;BYMONTHDAY=15\r
UID:abc123@google.com\r
SUMMARY:Ti\xe1\xba\xbfp c\xc3\xb4ng d\xc3\xa2n \xc4\x91\xe1\xbb\x8bnh k\xe1\xbb\xb3\r
END:VEVENT\r
END:VCALENDAR\r
"""


async def test_cookie_login_needs_csrf_for_changes(world: World) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        form = await login_form(browser, world.base_url)
        form |= {"username": world.usernames["officer"], "password": PASSWORD}
        async with browser.post(world.base_url + "/login", data=form,
                                allow_redirects=False) as r:  # fmt: skip
            assert r.status == 303
        async with browser.get(world.base_url + PREFIX + "/me") as r:
            me = await r.json()
        assert me["user"]["username"] == world.usernames["officer"] and me["csrf_token"]
        url = world.base_url + PREFIX + "/sessions"
        async with browser.post(url, json=session_body(world)) as r:
            assert r.status == 403 and "CSRF" in (await r.json())["detail"]
        async with browser.post(url, json=session_body(world),
                                headers={"X-CSRF-Token": me["csrf_token"]}) as r:  # fmt: skip
            assert r.status == 201
        async with browser.post(world.base_url + "/logout", allow_redirects=False,
                                data={"csrf_token": me["csrf_token"]}) as r:  # fmt: skip
            assert r.status == 303
        async with browser.get(world.base_url + PREFIX + "/me") as r:
            assert r.status == 401


async def test_wrong_password_is_refused_and_audited(world: World) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        form = await login_form(browser, world.base_url)
        form |= {"username": world.usernames["officer"], "password": "sai-mat-khau"}
        async with browser.post(world.base_url + "/login", data=form) as r:
            assert r.status == 401 and "Sai tên đăng nhập" in await r.text()
    async with world.db() as db:
        denied = await db.scalar(
            select(func.count()).where(
                AuditEntry.action == "login",
                AuditEntry.outcome == "denied",
                AuditEntry.target == f"username:{world.usernames['officer']}",
            )
        )
    assert denied and denied >= 1


async def test_ics_import_creates_the_series(world: World, http: aiohttp.ClientSession) -> None:
    status, created, _ = await call(
        http, world, "officer", "POST",
        f"/sessions/import?agency_id={world.agencies['ninh-binh']}", data=GOOGLE_EXPORT,
    )  # fmt: skip
    assert status == 201, created
    assert [s["starts_at"][:16] for s in created] == [
        "2027-01-15T01:00", "2027-02-15T01:00", "2027-03-15T01:00",
    ]  # fmt: skip
    assert created[0]["title"] == "Tiếp công dân định kỳ"


async def test_malformed_ics_is_a_400_naming_the_line(
    world: World, http: aiohttp.ClientSession
) -> None:
    _, before, _ = await call(http, world, "admin", "GET", "/sessions")
    broken = GOOGLE_EXPORT.replace(b"DTEND:20270115T040000Z", b"DTEND:2027-01-15 11:00")
    status, problem, content_type = await call(
        http, world, "officer", "POST",
        f"/sessions/import?agency_id={world.agencies['ninh-binh']}", data=broken,
    )  # fmt: skip
    assert (status, content_type) == (400, "application/problem+json")
    assert "dòng 6" in problem["detail"], problem
    _, after, _ = await call(http, world, "admin", "GET", "/sessions")
    assert after == before


FULL_TEXT_OBJECTS = ("transcript_fts", "tsv_", "ix_transcript_utterances_tsv_", "facets")


async def test_reference_data_and_migrations_match_the_models(
    world: World, engine: AsyncEngine
) -> None:
    async with world.db() as db:
        provinces = (await db.scalars(select(Province))).all()
    assert len([p for p in provinces if p.kind != "central"]) == 34
    names = {p.name for p in provinces}
    assert {"Ninh Bình", "TP Hồ Chí Minh", "Huế", "Cà Mau", "Trung ương"} <= names
    assert len({p.gso_code for p in provinces}) == len(provinces)

    def in_the_models(_obj: object, name: str | None, *_rest: object) -> bool:
        # The full-text machinery differs per backend and exists only in migrations 0007 and
        # 0009: the FTS5 table, its shadow tables and the generated facets column (SQLite),
        # generated tsvector columns under GIN (PG).
        return not (name or "").startswith(FULL_TEXT_OBJECTS)

    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"include_object": in_the_models})
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as conn:
        assert await conn.run_sync(diff) == []
