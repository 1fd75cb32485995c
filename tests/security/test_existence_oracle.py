"""Finding 9: no route tells a session the caller may not see from one that does not exist.

Every session-scoped route, API and page, is asked once about a hidden session (another
province's, or a restricted one of the caller's own office) and once about an absent one; the two
answers must be the same but for the id. Rows reached through their session (a bridge, a request
to speak) are asked the same way: a row of a hidden session against an absent row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from orchestrator.core.vocabulary import SessionKind, SessionStatus
from orchestrator.db.models import Bridge, ReceptionSession, SpeakRequest
from tests.integration.conftest import World

pytestmark = pytest.mark.asyncio(loop_scope="session")

ABSENT = 987_654_321
"""An id no test database reaches."""


@dataclass(frozen=True)
class Hidden:
    """Rows the officer of Ninh Bình may not see: a session, its bridge, its request to speak."""

    session: int
    bridge: int
    speak: int


async def _hidden(world: World, number: int, agency: str, restricted: bool) -> Hidden:
    """Rows numbered ``number`` (of the absent id's length, far past any the sequences give, so
    that blanking the id in an answer blanks nothing else)."""
    now = datetime.now(UTC)
    async with world.db() as db:
        session = ReceptionSession(
            id=number, title="Phiên tố cáo (kín)", kind=SessionKind.AD_HOC,
            agency_id=world.agencies[agency], starts_at=now, ends_at=now + timedelta(hours=1),
            status=SessionStatus.LIVE, restricted=restricted,
        )  # fmt: skip
        db.add(session)
        await db.flush()
        bridge = Bridge(id=number, session_id=session.id, hub_room=f"tw-hall-{session.id}",
                        hub_name="Hội trường", session_name=session.title)  # fmt: skip
        observer = world.users["observer"]
        speak = SpeakRequest(id=number, session_id=session.id, user_id=observer,
                             identity=f"user-{observer}", state="pending")  # fmt: skip
        db.add_all([bridge, speak])
        await db.commit()
        return Hidden(session.id, bridge.id, speak.id)


@pytest_asyncio.fixture(scope="session", params=["other_province", "restricted"])
async def hidden(request: pytest.FixtureRequest, world: World) -> Hidden:
    """Another province's session, or a restricted one of the officer's own office."""
    if request.param == "other_province":
        return await _hidden(world, 876_543_201, "ha-noi", restricted=False)
    return await _hidden(world, 876_543_202, "ninh-binh", restricted=True)


ABSENT_ROWS = Hidden(ABSENT, ABSENT, ABSENT)

# (method, path; {s} the session, {b} the bridge, {r} the request to speak; a JSON body)
ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/v1/sessions/{s}", None),
    ("PATCH", "/api/v1/sessions/{s}", {"title": "Đổi tên"}),
    ("POST", "/api/v1/sessions/{s}/cancel", {"reason": "Thử"}),
    ("GET", "/api/v1/sessions/{s}/invitations", None),
    ("POST", "/api/v1/sessions/{s}/invitations", {"kind": "citizen", "display_name": "Bà A"}),
    ("GET", "/api/v1/sessions/{s}/processing", None),
    ("GET", "/api/v1/sessions/{s}/media/mixed.opus", None),
    ("GET", "/api/v1/sessions/{s}/media/tracks/user-1/TR_a-00000.opus", None),
    ("POST", "/api/v1/sessions/{s}/end", None),
    ("GET", "/api/v1/sessions/{s}/attendance", None),
    ("POST", "/api/v1/sessions/{s}/listen", None),
    ("GET", "/api/v1/sessions/{s}/speak-requests", None),
    ("POST", "/api/v1/sessions/{s}/speak-requests", None),
    ("POST", "/api/v1/bridges", {"central_room": "tw-hall", "session_id": "{s}"}),
    ("PATCH", "/api/v1/bridges/{b}", {"talk_back": True}),
    ("DELETE", "/api/v1/bridges/{b}", None),
    ("POST", "/api/v1/speak-requests/{r}/approve", None),
    ("POST", "/api/v1/speak-requests/{r}/decline", None),
    ("POST", "/api/v1/speak-requests/{r}/revoke", None),
    ("GET", "/sessions/{s}/join", None),
    ("GET", "/archive/sessions/{s}", None),
]


def _fill(value: Any, rows: Hidden) -> Any:
    ids = {"{s}": rows.session, "{b}": rows.bridge, "{r}": rows.speak}
    if isinstance(value, dict):
        return {k: _fill(v, rows) for k, v in value.items()}
    if isinstance(value, str) and value in ids:
        return ids[value]
    if isinstance(value, str):
        for placeholder, number in ids.items():
            value = value.replace(placeholder, str(number))
    return value


async def _answer(
    http: aiohttp.ClientSession, world: World, method: str, path: str, body: Any, rows: Hidden
) -> tuple[int, str, str]:
    """Status, content type and body of the officer's request, each id of ``rows`` blanked."""
    async with http.request(
        method, world.base_url + _fill(path, rows), json=_fill(body, rows),
        headers=world.headers("officer"), allow_redirects=False,
    ) as r:  # fmt: skip
        text = await r.text()
        for number in {rows.session, rows.bridge, rows.speak}:
            text = re.sub(rf"\b{number}\b", "<id>", text)
        return r.status, r.content_type, text


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
async def test_hidden_answers_as_absent(
    world: World, http: aiohttp.ClientSession, hidden: Hidden,
    method: str, path: str, body: dict[str, Any] | None,
) -> None:  # fmt: skip
    absent = await _answer(http, world, method, path, body, ABSENT_ROWS)
    assert absent[0] == 404
    assert await _answer(http, world, method, path, body, hidden) == absent
