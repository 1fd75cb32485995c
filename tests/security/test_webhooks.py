"""Finding 13: a LiveKit webhook is applied only if it is what LiveKit sends (its content type,
UTF-8), signed, made lately, and about a session whose record is still open; anything else is a
4xx problem+json with a Vietnamese detail, and changes nothing."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from google.protobuf.json_format import MessageToJson
from livekit import api
from sqlalchemy import select

from orchestrator.core.vocabulary import SessionKind, SessionStatus
from orchestrator.db.models import Attendance, ReceptionSession
from tests.integration.conftest import World

pytestmark = pytest.mark.asyncio(loop_scope="session")

LIVEKIT = "application/webhook+json"


def _signed(world: World, body: bytes) -> str:
    lk = world.settings.livekit
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    return (
        api.AccessToken(lk.api_key, lk.api_secret.get_secret_value()).with_sha256(digest).to_jwt()
    )


async def _session(world: World, status: SessionStatus) -> str:
    """A session in ``status`` with a room; the room's name."""
    now, room = datetime.now(UTC), f"sec-{uuid.uuid4().hex[:10]}"
    async with world.db() as db:
        db.add(ReceptionSession(
            title="Phiên thử webhook", kind=SessionKind.AD_HOC,
            agency_id=world.agencies["ninh-binh"], starts_at=now - timedelta(hours=2),
            ends_at=now - timedelta(hours=1), status=status, room_name=room,
        ))  # fmt: skip
        await db.commit()
    return room


def _json(room: str, created_at: float) -> bytes:
    """A participant_joined event made at ``created_at``, as LiveKit writes it."""
    event = api.WebhookEvent(
        event="participant_joined", id=f"EV_{uuid.uuid4().hex}", created_at=int(created_at),
        room=api.Room(name=room),
        participant=api.ParticipantInfo(sid=f"PA_{uuid.uuid4().hex[:8]}", identity="citizen-x",
                                        name="Người lạ", joined_at=int(created_at)),
    )  # fmt: skip
    return MessageToJson(event).encode()


async def _post(
    http: aiohttp.ClientSession, world: World, body: bytes, content_type: str | None, auth: str
) -> tuple[int, dict[str, Any], str]:
    headers = {"Authorization": auth}
    if content_type is not None:
        headers["Content-Type"] = content_type
    async with http.post(world.base_url + "/livekit/webhook", data=body, headers=headers) as r:
        text = await r.text()
        answer = await r.json(content_type=None) if r.content_type.endswith("json") else {}
        return r.status, answer, text


async def _stays(world: World, room: str) -> int:
    async with world.db() as db:
        session = await db.scalar(
            select(ReceptionSession).where(ReceptionSession.room_name == room)
        )
        assert session is not None
        rows = await db.scalars(select(Attendance).where(Attendance.session_id == session.id))
        return len(list(rows))


async def test_a_fresh_event_is_applied(world: World, http: aiohttp.ClientSession) -> None:
    room = await _session(world, SessionStatus.LIVE)
    body = _json(room, time.time())
    assert (await _post(http, world, body, LIVEKIT, _signed(world, body)))[0] == 200
    assert await _stays(world, room) == 1


@pytest.mark.parametrize("age", [timedelta(days=1), timedelta(minutes=11), -timedelta(hours=1)],
                         ids=["a day old", "11 minutes old", "an hour ahead"])  # fmt: skip
async def test_an_event_made_long_ago_or_ahead_is_refused(
    world: World, http: aiohttp.ClientSession, age: timedelta
) -> None:
    room = await _session(world, SessionStatus.LIVE)
    body = _json(room, time.time() - age.total_seconds())
    status, answer, _ = await _post(http, world, body, LIVEKIT, _signed(world, body))
    assert status == 422 and "Sự kiện webhook" in answer["detail"]
    assert await _stays(world, room) == 0


@pytest.mark.parametrize("status", [SessionStatus.ARCHIVED, SessionStatus.CANCELLED])
async def test_no_attendance_for_a_closed_record(
    world: World, http: aiohttp.ClientSession, status: SessionStatus
) -> None:
    room = await _session(world, status)
    body = _json(room, time.time())
    code, answer, _ = await _post(http, world, body, LIVEKIT, _signed(world, body))
    assert code == 409 and "không ghi thêm người dự" in answer["detail"]
    assert await _stays(world, room) == 0


async def test_a_body_that_is_not_utf8_is_a_400(world: World, http: aiohttp.ClientSession) -> None:
    body = b'{"event": "participant_joined", "id": "\xff\xfe"}'
    status, answer, text = await _post(http, world, body, LIVEKIT, _signed(world, body))
    assert status == 400 and "UTF-8" in answer["detail"]
    assert "Traceback" not in text


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "text/plain", "application/x-www-form-urlencoded", None],
)
async def test_another_content_type_is_refused(
    world: World, http: aiohttp.ClientSession, content_type: str | None
) -> None:
    room = await _session(world, SessionStatus.LIVE)
    body = _json(room, time.time())
    status, answer, _ = await _post(http, world, body, content_type, _signed(world, body))
    assert status == 415 and LIVEKIT in answer["detail"]
    assert await _stays(world, room) == 0
