"""The JSON API on a real database (SQLite and PostgreSQL), through real HTTP."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import aiohttp
import icalendar
import pytest

from media.assignments import AGENT_HEADER
from orchestrator.app import API_ROUTES as ROUTES
from orchestrator.web.router import API_PREFIX as PREFIX
from tests.integration.conftest import World


def session_body(world: World, **changes: Any) -> dict[str, Any]:
    body = {
        "title": "Tiếp công dân định kỳ tháng 12",
        "kind": "periodic",
        "agency_id": world.agencies["ninh-binh"],
        "chair_id": world.users["chair"],
        "starts_at": "2027-01-15T08:00:00+07:00",
        "ends_at": "2027-01-15T11:00:00+07:00",
        "approval_ref": "QĐ 12/QĐ-UBND",
        "connection_points": [
            {"name": "Trụ sở Ban Tiếp công dân tỉnh", "tier": "province"},
            {"name": "UBND xã Gia Viễn", "tier": "commune",
             "agency_id": world.agencies["commune"]},
        ],
    }  # fmt: skip
    return body | changes


async def call(
    http: aiohttp.ClientSession, world: World, who: str, method: str, path: str, **kw: Any
) -> tuple[int, Any, str]:
    async with http.request(
        method, world.base_url + PREFIX + path, headers=world.headers(who), **kw
    ) as r:
        return r.status, await r.json(content_type=None), r.content_type


async def test_create_get_list_update_cancel(world: World, http: aiohttp.ClientSession) -> None:
    status, created, _ = await call(http, world, "officer", "POST", "/sessions",
                                    json=session_body(world))  # fmt: skip
    assert status == 201, created
    (session,) = created
    assert session["status"] == "scheduled" and session["province_code"] == "ninh-binh"
    assert session["starts_at"].startswith("2027-01-15T01:00:00")  # stored and shown as UTC
    assert [p["name"] for p in session["connection_points"]][1] == "UBND xã Gia Viễn"

    status, got, _ = await call(http, world, "officer", "GET", f"/sessions/{session['id']}")
    assert status == 200 and got == session

    status, listed, _ = await call(http, world, "officer", "GET", "/sessions")
    assert session["id"] in [s["id"] for s in listed]

    status, changed, _ = await call(http, world, "officer", "PATCH", f"/sessions/{session['id']}",
                                    json={"title": "Tiếp công dân định kỳ (dời lịch)"})  # fmt: skip
    assert status == 200 and changed["sequence"] == 1

    status, cancelled, _ = await call(http, world, "officer", "POST",
                                      f"/sessions/{session['id']}/cancel",
                                      json={"reason": "Trùng lịch họp"})  # fmt: skip
    assert status == 200 and cancelled["status"] == "cancelled" and cancelled["sequence"] == 2


async def test_recurring_series_expands_in_vietnam_time(
    world: World, http: aiohttp.ClientSession
) -> None:
    body = session_body(
        world,
        starts_at="2027-01-15T08:00:00+07:00",
        ends_at="2027-01-15T11:00:00+07:00",
        rrule="FREQ=MONTHLY;BYMONTHDAY=15;COUNT=6",
        exdates=["2027-03-15T08:00:00+07:00"],
    )
    status, created, _ = await call(http, world, "chair", "POST", "/sessions", json=body)
    assert status == 201, created
    starts = [s["starts_at"][:16] for s in created]
    assert starts == ["2027-01-15T01:00", "2027-02-15T01:00", "2027-04-15T01:00",
                      "2027-05-15T01:00", "2027-06-15T01:00"]  # fmt: skip
    assert len({s["series_id"] for s in created}) == 1


async def test_bad_input_is_refused_and_changes_nothing(
    world: World, http: aiohttp.ClientSession
) -> None:
    _, before, _ = await call(http, world, "admin", "GET", "/sessions")
    cases = [
        (session_body(world, ends_at="2027-01-15T07:00:00+07:00"), 422, "kết thúc"),
        (session_body(world, agency_id=999999), 422, "999999"),
        (session_body(world, rrule="FREQ=SOMETIMES"), 422, ""),
        ({"title": "x"}, 422, "agency_id"),
    ]
    for body, expected, words in cases:
        status, problem, content_type = await call(http, world, "officer", "POST", "/sessions",
                                                   json=body)  # fmt: skip
        assert (status, content_type) == (expected, "application/problem+json"), problem
        assert words in problem["detail"] and problem["status"] == expected
    status, problem, _ = await call(http, world, "officer", "POST", "/sessions", data=b"{not json")
    assert status == 400 and "JSON" in problem["detail"]
    status, problem, _ = await call(http, world, "admin", "POST", "/agencies",
                                    json={"name": "Ban X", "tier": "province",
                                          "province_code": "ha-tay"})  # fmt: skip
    assert status == 422 and "ha-tay" in problem["detail"]
    _, after, _ = await call(http, world, "admin", "GET", "/sessions")
    assert after == before


async def test_permissions_hold_through_the_api(world: World, http: aiohttp.ClientSession) -> None:
    _, (own,), _ = await call(http, world, "officer", "POST", "/sessions",
                              json=session_body(world))  # fmt: skip
    # Another province's officer neither sees nor changes it.
    status, _, _ = await call(http, world, "other_officer", "GET", f"/sessions/{own['id']}")
    assert status == 404
    status, _, _ = await call(http, world, "other_officer", "POST", "/sessions",
                              json=session_body(world))  # fmt: skip
    assert status == 403
    # A restricted (denunciation) session is invisible without clearance, even to an admin-less
    # officer of the same agency; the cleared chair sees it.
    _, (secret,), _ = await call(http, world, "chair", "POST", "/sessions",
                                 json=session_body(world, restricted=True))  # fmt: skip
    status, _, _ = await call(http, world, "officer", "GET", f"/sessions/{secret['id']}")
    assert status == 404
    _, listed, _ = await call(http, world, "observer", "GET", "/sessions")
    assert secret["id"] not in [s["id"] for s in listed] and own["id"] in [s["id"] for s in listed]
    # Only admins manage users; a bad token is 401.
    status, _, _ = await call(http, world, "officer", "GET", "/users")
    assert status == 403
    async with http.get(world.base_url + PREFIX + "/sessions",
                        headers={"Authorization": "Bearer tdn_forged"}) as r:  # fmt: skip
        assert r.status == 401


async def test_openapi_documents_exactly_the_api(world: World, http: aiohttp.ClientSession) -> None:
    async with http.get(world.base_url + PREFIX + "/openapi.json") as r:
        doc = await r.json()
    assert doc["openapi"].startswith("3.1")
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    served = {(route.method, PREFIX + route.path) for route in ROUTES}
    assert documented == served
    # Every documented operation is routed on the running server: a 404 there is a handler's
    # ("no such session"), never the router's "no such address".
    for method, path in sorted(documented):
        async with http.request(method, world.base_url + re.sub(r"\{[^}]+\}", "1", path),
                                headers=world.headers("admin")) as r:  # fmt: skip
            detail = (await r.json(content_type=None))["detail"] if r.status >= 400 else ""
            routed = r.status != 405 and "Không có trang hay thao tác nào" not in detail
            assert routed, (method, path)
    for ref_owner in doc["components"]["schemas"].values():
        assert isinstance(ref_owner, dict)


async def test_calendar_feed_carries_launch_links(
    world: World, http: aiohttp.ClientSession
) -> None:
    _, (session,), _ = await call(http, world, "chair", "POST", "/sessions",
                                  json=session_body(world))  # fmt: skip
    _, feed, _ = await call(http, world, "chair", "GET", "/me/calendar")
    async with http.get(feed["url"]) as r:
        assert r.status == 200 and r.content_type == "text/calendar"
        calendar = icalendar.Calendar.from_ical(await r.read())
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    (event,) = [e for uid, e in events.items() if uid.startswith(f"session-{session['id']}-")]
    assert str(event["URL"]).startswith(world.base_url + "/launch/")
    assert str(event["URL"]) in str(event["DESCRIPTION"])
    # Rotating the feed revokes the old URL.
    _, rotated, _ = await call(http, world, "chair", "POST", "/me/calendar/rotate")
    async with http.get(feed["url"]) as r:
        assert r.status == 404
    async with http.get(rotated["url"]) as r:
        assert r.status == 200


async def test_a_client_gone_mid_body_is_no_server_error(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """A media agent killed while posting (as docker kills one after its stop timeout): the
    half-read body is the client's leaving, not an unhandled error with a stack trace."""
    caplog.set_level(logging.INFO, logger="orchestrator.app")
    host, port = world.base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    agent = f"{AGENT_HEADER}: {world.settings.security.media_agent_token}"
    writer.write(
        f"POST /api/v1/media/release HTTP/1.1\r\nHost: {host}\r\n{agent}\r\n".encode()
        + b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        + b'{"agent_id": "'
    )
    await writer.drain()
    await asyncio.sleep(0.3)  # the handler is reading the body
    writer.transport.abort()
    await asyncio.sleep(0.3)
    said = [(r.name, r.levelname, r.getMessage()) for r in caplog.records
            if r.name in ("orchestrator.app", "aiohttp.server")]  # fmt: skip
    left = "client left during POST /api/v1/media/release"
    assert said == [("orchestrator.app", "INFO", left)], caplog.text
