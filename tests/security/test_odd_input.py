"""Finding 14: odd input is a 4xx with a Vietnamese problem document, never a 500: ids beyond
what a row id can be (in a path, a body, a query string), dates in years 1 and 9999, ``null``
for a field that cannot be cleared, JSON nested 100,000 deep, an office whose parent does not
exist, a multipart body without a CSRF token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from orchestrator.web.router import API_PREFIX
from tests.form_login import login_form
from tests.integration.conftest import PASSWORD, World
from tests.security.conftest import Browser, NewAccount

pytestmark = pytest.mark.asyncio(loop_scope="session")

VIETNAMESE = re.compile(r"[àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ]")
HUGE = 2**64 + 1  # beyond 64 bits
INT4 = 2**31  # beyond PostgreSQL's INTEGER, the type of every id column
DEEP = "[" * 100_000 + "]" * 100_000
ONE_EVENT = "\r\n".join(
    [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//thu//vi",
        "BEGIN:VEVENT",
        "UID:odd@example.vn",
        "DTSTART:20270107T010000Z",
        "DTEND:20270107T040000Z",
        "SUMMARY:Phiên thử",
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
)


def _session(**changes: Any) -> dict[str, Any]:
    return {
        "title": "Phiên thử",
        "agency_id": "{agency}",
        "starts_at": "2027-01-15T08:00:00+07:00",
        "ends_at": "2027-01-15T11:00:00+07:00",
        **changes,
    }


# (who calls, method, path, JSON body or raw text, expected status); ``{session}`` is a
# scheduled session of the officer's office, ``{agency}`` that office.
CASES = [
    pytest.param("officer", "GET", f"/sessions/{HUGE}", None, 404, id="path-id-64bit"),
    pytest.param("officer", "GET", f"/sessions/{INT4}", None, 404, id="path-id-int4"),
    pytest.param("officer", "GET", f"/sessions/{HUGE}/attendance", None, 404, id="attendance-id"),
    pytest.param("officer", "GET", f"/sessions/{HUGE}/processing", None, 404, id="processing-id"),
    pytest.param("admin", "PATCH", f"/bridges/{HUGE}", {"talk_back": True}, 404, id="bridge-id"),
    pytest.param("officer", "POST", f"/speak-requests/{HUGE}/approve", None, 404, id="speak-id"),
    pytest.param("admin", "GET", f"/sessions/{HUGE}/media/mixed.opus", None, 404, id="media-id"),
    pytest.param(
        "admin", "GET", f"/sessions/{INT4}/media/tracks/a/b.opus", None, 404, id="track-id"
    ),
    pytest.param(
        "admin",
        "POST",
        "/users",
        {
            "username": "ai.do",
            "display_name": "Ai đó",
            "password": "mot-mat-khau-rat-dai-2027",
            "role": "officer",
            "agency_id": HUGE,
        },
        422,
        id="user-agency-id",
    ),
    pytest.param(
        "officer", "POST", "/sessions", _session(agency_id=HUGE), 422, id="session-agency-id"
    ),
    pytest.param("officer", "POST", "/sessions", _session(chair_id=INT4), 422, id="chair-id"),
    pytest.param(
        "officer",
        "POST",
        "/sessions/{session}/invitations",
        {"kind": "officer", "display_name": "Cán bộ", "user_id": HUGE},
        422,
        id="invitation-user-id",
    ),
    pytest.param(
        "admin",
        "POST",
        "/bridges",
        {"central_room": "hoi-truong", "session_id": HUGE},
        422,
        id="bridge-session-id",
    ),
    pytest.param(
        "admin", "GET", f"/search?q=dat&agency_id={HUGE}", None, 400, id="search-agency-id"
    ),
    pytest.param(
        "admin", "GET", f"/search?q=dat&session_id={HUGE}", None, 400, id="search-session-id"
    ),
    pytest.param(
        "officer",
        "POST",
        f"/sessions/import?agency_id={HUGE}",
        ONE_EVENT,
        400,
        id="import-agency-id",
    ),
    pytest.param(
        "officer", "POST", "/sessions", _session(starts_at="0001-01-01T00:00:00"), 422, id="year-1"
    ),
    pytest.param(
        "officer",
        "POST",
        "/sessions",
        _session(ends_at="9999-12-31T23:59:59-12:00"),
        422,
        id="year-9999",
    ),
    pytest.param(
        "officer",
        "POST",
        "/sessions",
        _session(exdates=["0001-01-01T00:00:00+14:00"]),
        422,
        id="exdate-year-1",
    ),
    pytest.param(
        "officer",
        "PATCH",
        "/sessions/{session}",
        {"starts_at": "0001-01-01T00:00:00"},
        422,
        id="patch-year-1",
    ),
    pytest.param(
        "officer",
        "GET",
        "/sessions?from=0001-01-01T00:00:00%2B07:00",
        None,
        400,
        id="list-from-year-1",
    ),
    pytest.param(
        "officer",
        "GET",
        "/sessions?to=9999-12-31T23:59:59-12:00",
        None,
        400,
        id="list-to-year-9999",
    ),
    pytest.param(
        "admin", "GET", "/search?q=dat&from=0001-01-01", None, 400, id="search-from-year-1"
    ),
    pytest.param(
        "admin", "GET", "/search?q=dat&to=9999-12-31", None, 400, id="search-to-year-9999"
    ),
    pytest.param("officer", "PATCH", "/sessions/{session}", {"title": None}, 422, id="null-title"),
    pytest.param(
        "officer", "PATCH", "/sessions/{session}", {"starts_at": None}, 422, id="null-start"
    ),
    pytest.param(
        "officer", "PATCH", "/sessions/{session}", {"restricted": None}, 422, id="null-restricted"
    ),
    pytest.param("officer", "POST", "/sessions", DEEP, 400, id="json-100k-deep"),
    pytest.param(
        "admin",
        "POST",
        "/agencies",
        {
            "name": "Ban mồ côi",
            "tier": "commune",
            "province_code": "ninh-binh",
            "parent_id": 999_999,
        },
        422,
        id="agency-without-parent",
    ),
    pytest.param(
        "officer",
        "POST",
        "/sessions",
        _session(connection_points=[{"name": "Xã", "tier": "commune", "agency_id": 999_999}]),
        422,
        id="point-without-agency",
    ),
]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def places(world: World) -> AsyncIterator[dict[str, str]]:
    """``{agency}``: the officer's office; ``{session}``: a scheduled session of it."""
    agency = str(world.agencies["ninh-binh"])
    async with aiohttp.ClientSession() as http:
        body = {**_session(), "agency_id": int(agency)}
        async with http.post(
            world.base_url + API_PREFIX + "/sessions", json=body, headers=world.headers("officer")
        ) as r:
            assert r.status == 201, await r.text()
            (session,) = await r.json()
    yield {"agency": agency, "session": str(session["id"])}


def _fill(value: Any, agency: int) -> Any:
    """``value`` with each ``"{agency}"`` replaced by the office's id."""
    if value == "{agency}":
        return agency
    if isinstance(value, dict):
        return {k: _fill(v, agency) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, agency) for v in value]
    return value


async def _assert_vietnamese_problem(response: aiohttp.ClientResponse, status: int) -> None:
    text = await response.text()
    assert response.status == status, text
    assert response.content_type == "application/problem+json", text
    detail = (await response.json(content_type=None))["detail"]
    assert VIETNAMESE.search(detail), detail


@pytest.mark.parametrize(("who", "method", "path", "body", "status"), CASES)
async def test_odd_input_is_a_vietnamese_4xx(
    world: World,
    places: dict[str, str],
    who: str,
    method: str,
    path: str,
    body: Any,
    status: int,
) -> None:
    url = world.base_url + API_PREFIX + path.format_map(places)
    sent: dict[str, Any] = {"headers": world.headers(who)}
    if isinstance(body, str):
        sent["data"] = body.encode()
        sent["headers"] |= {
            "Content-Type": "text/calendar" if "import" in path else "application/json"
        }
    elif body is not None:
        sent["json"] = _fill(body, int(places["agency"]))
    async with aiohttp.ClientSession() as http, http.request(method, url, **sent) as r:
        await _assert_vietnamese_problem(r, status)


@pytest.mark.parametrize(
    "content_type", ["multipart/form-data", "multipart/form-data; boundary=x", "text/plain"]
)
async def test_a_cookie_write_without_csrf_token_is_a_vietnamese_403(
    world: World, new_account: NewAccount, browser_from: Browser, content_type: str
) -> None:
    username = await new_account()
    async with browser_from() as browser:
        form = await login_form(browser, world.base_url)
        form |= {"username": username, "password": PASSWORD}
        async with browser.post(world.base_url + "/login", data=form, allow_redirects=False) as r:
            assert r.status == 303
        async with browser.post(
            world.base_url + API_PREFIX + "/sessions",
            data=b"--x\r\nnot a part",
            headers={"Content-Type": content_type},
        ) as r:
            await _assert_vietnamese_problem(r, 403)
