"""From the calendar's launch link to a live room, attendance from real webhooks, and the end.

Real livekit-server, real rtc participants, the real orchestrator on the webhook port.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import icalendar
import pytest
import redis.asyncio as aioredis
from livekit import api, rtc
from sqlalchemy import select

from media.room_join import join
from orchestrator.app import create_app
from orchestrator.core.vocabulary import SessionStatus
from orchestrator.db.models import AuditEntry, ReceptionSession, RecordingRequest
from orchestrator.live.join_page import read_join_config
from orchestrator.scheduling.launch_links import LaunchClaims, launch_window, sign_launch_token
from tests.integration.conftest import World
from tests.integration.test_orchestrator_api import call, session_body
from tests.loopback import free_port, served


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 15.0) -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.2)


def lkapi(world: World) -> api.LiveKitAPI:
    lk = world.settings.livekit
    return api.LiveKitAPI(lk.http_url, lk.api_key, lk.api_secret.get_secret_value())


async def new_session_now(world: World, http: aiohttp.ClientSession, who: str = "chair") -> int:
    start = datetime.now(UTC) + timedelta(minutes=10)
    body = session_body(world, starts_at=start.isoformat(),
                        ends_at=(start + timedelta(hours=2)).isoformat())  # fmt: skip
    status, (session,), _ = await call(http, world, who, "POST", "/sessions", json=body)
    assert status == 201
    return int(session["id"])


async def launch_link(world: World, http: aiohttp.ClientSession, who: str, session_id: int) -> str:
    """The link exactly as the user's calendar app shows it."""
    _, feed, _ = await call(http, world, who, "GET", "/me/calendar")
    async with http.get(feed["url"]) as r:
        calendar = icalendar.Calendar.from_ical(await r.read())
    for event in calendar.walk("VEVENT"):
        if str(event["UID"]).startswith(f"session-{session_id}-"):
            return str(event["URL"])
    raise AssertionError(f"session {session_id} not in {who}'s feed")


async def launch(world: World, http: aiohttp.ClientSession, who: str, session_id: int) -> str:
    """Open the launch link as ``who``; return the join page URL it redirects to."""
    link = await launch_link(world, http, who, session_id)
    async with http.get(link, headers=world.headers(who), allow_redirects=False) as r:
        assert r.status == 303, await r.text()
        return world.base_url + r.headers["Location"]


async def join_token(world: World, http: aiohttp.ClientSession, who: str, join_url: str) -> str:
    async with http.get(join_url, headers=world.headers(who)) as r:
        assert r.status == 200, await r.text()
        page = await r.text()
    return read_join_config(page)["token"]


async def test_launch_creates_the_room_and_asks_for_a_recorder(
    world: World, http: aiohttp.ClientSession
) -> None:
    session_id = await new_session_now(world, http)
    join_url = await launch(world, http, "chair", session_id)
    assert join_url.endswith(f"/sessions/{session_id}/join")
    room = f"{world.province_code}-{session_id}"
    async with lkapi(world) as lk:
        rooms = (await lk.room.list_rooms(api.ListRoomsRequest(names=[room]))).rooms
        assert [r.name for r in rooms] == [room]
        meta = json.loads(rooms[0].metadata)
        assert meta["session_id"] == session_id and meta["recording"] is False
        # A second click (rejoin) is fine and creates nothing new.
        assert await launch(world, http, "chair", session_id) == join_url
        await lk.room.delete_room(api.DeleteRoomRequest(room=room))
    async with world.db() as db:
        session = await db.get(ReceptionSession, session_id)
        assert session is not None and session.room_name == room
        assert await db.get(RecordingRequest, session_id) is not None


async def test_participant_attendance_and_room_end_come_from_webhooks(
    world: World, http: aiohttp.ClientSession
) -> None:
    broker = aioredis.from_url(world.settings.broker.url)
    session_id = await new_session_now(world, http)
    token = await join_token(world, http, "chair", await launch(world, http, "chair", session_id))

    room = rtc.Room()
    await join(room, world.settings.livekit.url, token, rtc.RoomOptions(), timeout_s=20)

    async def attendance() -> list[dict[str, Any]]:
        _, rows, _ = await call(http, world, "chair", "GET", f"/sessions/{session_id}/attendance")
        return rows if rows and rows[0]["joined_at"] else []

    rows = await eventually(attendance)
    assert [r["identity"] for r in rows] == [f"user-{world.users['chair']}"]
    await room.disconnect()

    async def left() -> bool:
        _, rows, _ = await call(http, world, "chair", "GET", f"/sessions/{session_id}/attendance")
        return bool(rows and rows[0]["left_at"])

    assert await eventually(left)

    async with lkapi(world) as lk:
        await lk.room.delete_room(api.DeleteRoomRequest(room=f"{world.province_code}-{session_id}"))

    async def ended() -> bool:
        _, s, _ = await call(http, world, "chair", "GET", f"/sessions/{session_id}")
        return bool(s["status"] == "ended")

    assert await eventually(ended)

    async def queued() -> int:
        messages = await broker.lrange("transcribe", 0, -1)
        bodies = [base64.b64decode(json.loads(m)["body"]) for m in messages]
        return sum(f"[{session_id}]".encode() in body for body in bodies)

    # Ended, but the recording is not complete yet: no pipeline.
    assert await queued() == 0
    # The recorder reports its recording complete: the pipeline starts, by task name, once.
    agent = {"X-Tiepdan-Agent": world.settings.security.media_agent_token}
    beat = await agent_call(http, world, "/media/heartbeat", {"agent_id": "agent-a"})
    assert {"session_id": session_id, "live": False} in [
        {k: a[k] for k in ("session_id", "live")} for a in beat["assignments"]
    ]
    done = {"agent_id": "agent-a", "manifest_path": "/spool/recording.json"}
    first = await agent_call(http, world, f"/media/recordings/{session_id}/complete", done)
    again = await agent_call(http, world, f"/media/recordings/{session_id}/complete", done)
    assert first == {"completed": True, "pipeline_started": True}
    assert again == {"completed": False, "pipeline_started": False}
    assert await queued() == 1
    _, s, _ = await call(http, world, "chair", "GET", f"/sessions/{session_id}")
    assert s["status"] == "processing"
    async with http.post(world.base_url + "/api/v1/media/heartbeat", json={"agent_id": "x"},
                         headers={**agent, "X-Tiepdan-Agent": "forged"}) as r:  # fmt: skip
        assert r.status == 401
    await broker.aclose()


async def agent_call(
    http: aiohttp.ClientSession, world: World, path: str, body: dict[str, Any]
) -> Any:
    """POST as a media agent."""
    headers = {"X-Tiepdan-Agent": world.settings.security.media_agent_token}
    async with http.post(world.base_url + "/api/v1" + path, json=body, headers=headers) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def test_one_agent_per_recording_and_takeover_after_expiry(
    world: World, http: aiohttp.ClientSession
) -> None:
    session_id = await new_session_now(world, http)
    await launch(world, http, "chair", session_id)

    def holds(beat: Any) -> bool:
        return session_id in [a["session_id"] for a in beat["assignments"]]

    a, b = await asyncio.gather(
        agent_call(http, world, "/media/heartbeat", {"agent_id": "agent-a"}),
        agent_call(http, world, "/media/heartbeat", {"agent_id": "agent-b"}),
    )
    assert holds(a) != holds(b)  # exactly one of them
    owner, other = ("agent-a", "agent-b") if holds(a) else ("agent-b", "agent-a")
    # The owner keeps it while it beats; the other never gets it meanwhile.
    for _ in range(3):
        assert holds(await agent_call(http, world, "/media/heartbeat", {"agent_id": owner}))
        assert not holds(await agent_call(http, world, "/media/heartbeat", {"agent_id": other}))
    # The owner dies: once its lease has expired, the other takes over.
    async with world.db() as db:
        request = await db.get(RecordingRequest, session_id)
        assert request is not None and request.lease_expires_at is not None
        request.lease_expires_at = datetime.now(UTC) - timedelta(seconds=1)
        await db.commit()
    assert holds(await agent_call(http, world, "/media/heartbeat", {"agent_id": other}))
    assert not holds(await agent_call(http, world, "/media/heartbeat", {"agent_id": owner}))
    # A capacity of 0 takes nothing new.
    idle = await agent_call(http, world, "/media/heartbeat", {"agent_id": "c", "capacity": 0})
    assert idle["assignments"] == []
    async with lkapi(world) as lk:
        await lk.room.delete_room(api.DeleteRoomRequest(room=f"{world.province_code}-{session_id}"))


@pytest.mark.postgresql_only
async def test_reconciler_repairs_lost_webhooks(world: World, http: aiohttp.ClientSession) -> None:
    """A live session whose room is gone without a room_finished webhook gets its room back for
    the grace (``livekit.room_lost_grace_s``, 15 s here); nobody rejoins, so it ends, saying why."""
    session_id = await new_session_now(world, http)
    room = f"gone-{session_id}"
    async with world.db() as db:
        session = await db.get(ReceptionSession, session_id)
        assert session is not None
        # As if launched, then the room closed while the orchestrator missed the webhook.
        session.status, session.room_name = SessionStatus.LIVE, room
        await db.commit()

    async def recreated() -> bool:
        async with lkapi(world) as lk:
            return bool((await lk.room.list_rooms(api.ListRoomsRequest(names=[room]))).rooms)

    assert await eventually(recreated, timeout=5)

    async def ended() -> ReceptionSession | None:
        async with world.db() as db:
            s = await db.scalar(select(ReceptionSession).where(ReceptionSession.id == session_id))
            # No recording was asked for, so the pipeline starts at once.
            return s if s is not None and s.status == SessionStatus.PROCESSING else None

    session = await eventually(ended, timeout=30)
    assert session is not None and session.status_reason is not None
    assert session.status_reason.startswith("room_lost: nobody rejoined within 15 s")
    assert not await recreated(), "the recreated room is closed with the session"
    async with world.db() as db:
        actions = (await db.scalars(select(AuditEntry.action).where(
            AuditEntry.target == f"session:{session_id}", AuditEntry.action.like("room.%")
        ))).all()  # fmt: skip
    assert sorted(actions) == ["room.lost", "room.lost_ended"]


def signed_webhook(
    world: World, payload: dict[str, Any], secret: str | None = None
) -> tuple[str, str]:
    lk = world.settings.livekit
    body = json.dumps(payload)
    token = (
        api.AccessToken(lk.api_key, secret or lk.api_secret.get_secret_value())
        .with_sha256(base64.b64encode(hashlib.sha256(body.encode()).digest()).decode())
        .to_jwt()
    )
    return body, token


async def test_forged_and_duplicate_webhooks(world: World, http: aiohttp.ClientSession) -> None:
    session_id = await new_session_now(world, http)
    await launch(world, http, "chair", session_id)
    event = {
        "event": "participant_joined",
        "id": f"EV_test_{session_id}",
        "createdAt": int(time.time()),
        "room": {"name": f"{world.province_code}-{session_id}"},
        "participant": {"sid": "PA_test", "identity": "ghost", "name": "Ghost",
                        "joinedAt": int(time.time())},
    }  # fmt: skip
    url = world.base_url + "/livekit/webhook"
    body, forged = signed_webhook(world, event, secret="not-the-secret-" * 3)
    async with http.post(
        url,
        data=body,
        headers={"Authorization": forged, "Content-Type": "application/webhook+json"},
    ) as r:
        assert r.status == 401 and "Chữ ký" in (await r.json())["detail"]
    _, rows, _ = await call(http, world, "chair", "GET", f"/sessions/{session_id}/attendance")
    assert rows == []

    body, token = signed_webhook(world, event)
    for _ in range(2):
        async with http.post(
            url,
            data=body,
            headers={"Authorization": token, "Content-Type": "application/webhook+json"},
        ) as r:
            assert r.status == 200
    _, rows, _ = await call(http, world, "chair", "GET", f"/sessions/{session_id}/attendance")
    assert [r["identity"] for r in rows] == ["ghost"]
    async with lkapi(world) as lk:
        await lk.room.delete_room(api.DeleteRoomRequest(room=f"{world.province_code}-{session_id}"))


@pytest.mark.parametrize("case", ["other_user", "forged", "expired"])
async def test_bad_launch_links_get_a_vietnamese_403(
    world: World, http: aiohttp.ClientSession, case: str
) -> None:
    session_id = await new_session_now(world, http)
    link = await launch_link(world, http, "chair", session_id)
    who = "chair"
    if case == "other_user":
        who = "officer"
    elif case == "forged":
        link = link[:-4] + ("AAAA" if not link.endswith("AAAA") else "BBBB")
    else:
        secret = world.settings.security.secret_key.get_secret_value()
        past = datetime.now(UTC) - timedelta(days=1)
        opens, closes = launch_window(past, past + timedelta(hours=1))
        claims = LaunchClaims(world.users["chair"], session_id, past)
        token = sign_launch_token(secret, claims, opens, closes)
        link = f"{world.base_url}/launch/{token}"
    async with http.get(link, headers=world.headers(who), allow_redirects=False) as r:
        assert r.status == 403
        page = await r.text()
    assert 'lang="vi"' in page
    assert {"other_user": "người khác", "forged": "", "expired": "hết hạn"}[case] in page
    _, s, _ = await call(http, world, "chair", "GET", f"/sessions/{session_id}")
    assert s["status"] == "scheduled"  # nothing launched


async def test_webhooks_out_of_order_still_give_one_complete_stay(
    world: World, http: aiohttp.ClientSession
) -> None:
    session_id = await new_session_now(world, http)
    await launch(world, http, "chair", session_id)
    room = {"name": f"{world.province_code}-{session_id}"}
    came = int(time.time()) - 300  # within the age a webhook may have
    participant = {"sid": "PA_late", "identity": "citizen-1", "name": "Nguyễn Văn A",
                   "joinedAt": came}  # fmt: skip
    left = {"event": "participant_left", "id": f"EV_left_{session_id}",
            "createdAt": came + 120, "room": room, "participant": participant}  # fmt: skip
    joined = {"event": "participant_joined", "id": f"EV_join_{session_id}",
              "createdAt": came, "room": room, "participant": participant}  # fmt: skip
    for event in (left, joined):  # the "left" event arrives first
        body, token = signed_webhook(world, event)
        headers = {"Authorization": token, "Content-Type": "application/webhook+json"}
        async with http.post(world.base_url + "/livekit/webhook", data=body, headers=headers) as r:
            assert r.status == 200
    _, rows, _ = await call(http, world, "chair", "GET", f"/sessions/{session_id}/attendance")
    ghost = [r for r in rows if r["identity"] == "citizen-1"]
    assert len(ghost) == 1
    assert datetime.fromisoformat(ghost[0]["joined_at"]) == datetime.fromtimestamp(came, UTC)
    assert datetime.fromisoformat(ghost[0]["left_at"]) == datetime.fromtimestamp(came + 120, UTC)
    async with lkapi(world) as lk:
        await lk.room.delete_room(api.DeleteRoomRequest(room=room["name"]))


async def test_invited_citizen_joins_by_personal_link(
    world: World, http: aiohttp.ClientSession
) -> None:
    session_id = await new_session_now(world, http)
    _, session, _ = await call(http, world, "officer", "GET", f"/sessions/{session_id}")
    commune_point = session["connection_points"][1]
    status, invitation, _ = await call(
        http, world, "officer", "POST", f"/sessions/{session_id}/invitations",
        json={"kind": "citizen", "display_name": "Trần Thị B",
              "connection_point_id": commune_point["id"]},
    )  # fmt: skip
    assert status == 201 and invitation["join_url"].startswith(world.base_url + "/join/")

    async with http.get(invitation["join_url"]) as r:  # before the chair opens the session
        assert r.status == 409 and "hãy mở lại liên kết" in await r.text()
    await launch(world, http, "chair", session_id)
    async with http.get(invitation["join_url"]) as r:  # no sign-in: the link is the key
        assert r.status == 200
        page = await r.text()
    token = re.search(r'"token": "([^"]+)"', page)
    assert token, page
    claims = api.TokenVerifier(
        world.settings.livekit.api_key, world.settings.livekit.api_secret.get_secret_value()
    ).verify(token.group(1))
    assert claims.identity == invitation["identity"] and claims.name == "Trần Thị B"
    assert claims.attributes["connection_point"] == commune_point["name"]
    assert claims.video.hidden is False
    assert sorted(claims.video.can_publish_sources or []) == ["camera", "microphone"]

    async with http.get(world.base_url + "/join/not-a-real-token") as r:
        assert r.status == 404 and 'lang="vi"' in await r.text()
    async with lkapi(world) as lk:
        await lk.room.delete_room(api.DeleteRoomRequest(room=f"{world.province_code}-{session_id}"))


async def test_launch_token_ends_within_an_hour_of_the_end_and_is_audited(
    world: World, http: aiohttp.ClientSession
) -> None:
    session_id = await new_session_now(world, http)
    token = await join_token(world, http, "chair", await launch(world, http, "chair", session_id))
    lk = world.settings.livekit
    claims = api.TokenVerifier(lk.api_key, lk.api_secret.get_secret_value()).verify(token)
    _, session, _ = await call(http, world, "chair", "GET", f"/sessions/{session_id}")
    ends = datetime.fromisoformat(session["ends_at"])
    expires = datetime.fromtimestamp(
        json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["exp"], UTC
    )
    assert claims.identity == f"user-{world.users['chair']}"
    assert ends < expires <= ends + timedelta(hours=1, seconds=1)
    async with world.db() as db:
        rows = (
            await db.scalars(select(AuditEntry).where(AuditEntry.target == f"session:{session_id}"))
        ).all()
    assert {("session.launch", "allowed"), ("session.join", "allowed")} <= {
        (r.action, r.outcome) for r in rows
    }
    async with lkapi(world) as k:
        await k.room.delete_room(api.DeleteRoomRequest(room=f"{world.province_code}-{session_id}"))


async def test_chair_ends_a_live_session(world: World, http: aiohttp.ClientSession) -> None:
    """Ending closes the room for everyone; ending twice, or someone else's session, is refused."""
    session_id = await new_session_now(world, http)
    token = await join_token(world, http, "chair", await launch(world, http, "chair", session_id))
    room = rtc.Room()
    await join(room, world.settings.livekit.url, token, rtc.RoomOptions(), timeout_s=20)
    disconnected = asyncio.Event()
    room.on("disconnected", lambda *_: disconnected.set())

    end = f"/sessions/{session_id}/end"
    status, problem, _ = await call(http, world, "other_officer", "POST", end)
    assert status == 404, problem
    status, body, _ = await call(http, world, "chair", "POST", end)
    assert status == 200 and body["status"] == "ended"
    await asyncio.wait_for(disconnected.wait(), 10)
    async with lkapi(world) as lk:
        rooms = await lk.room.list_rooms(api.ListRoomsRequest(names=[f"ninh-binh-{session_id}"]))
        assert not rooms.rooms
    status, problem, _ = await call(http, world, "chair", "POST", end)
    assert status == 409 and "đã kết thúc" in problem["detail"], problem
    async with world.db() as db:
        ends = (await db.scalars(select(AuditEntry).where(
            AuditEntry.action == "session.end", AuditEntry.target == f"session:{session_id}"
        ))).all()  # fmt: skip
        assert [e.outcome for e in ends] == ["allowed"]


@asynccontextmanager
async def orchestrator_without_livekit(world: World) -> AsyncIterator[World]:
    """A second orchestrator on the world's database whose LiveKit is down (nothing listens on
    its port): the world as its clients see it."""
    dead = world.settings.livekit.model_copy(update={"url": f"ws://127.0.0.1:{free_port()}"})
    settings = world.settings.model_copy(update={"livekit": dead})
    app = await asyncio.to_thread(create_app, settings, reconcile_interval_s=None)
    async with served(app) as base_url:
        yield dataclasses.replace(world, base_url=base_url)


async def test_livekit_down_launch_is_a_vietnamese_503_and_end_still_ends(
    world: World, http: aiohttp.ClientSession
) -> None:
    """A launch while LiveKit is down says so and leaves the session scheduled (it was a 500 with
    a traceback); ending a live session while it is down ends it (it was a 500 after the end
    was committed)."""
    session_id = await new_session_now(world, http)
    link = await launch_link(world, http, "chair", session_id)
    async with orchestrator_without_livekit(world) as down:
        started = time.monotonic()
        there = link.replace(world.base_url, down.base_url)
        async with http.get(there, headers=world.headers("chair"), allow_redirects=False) as r:
            assert r.status == 503
            page = await r.text()
        assert time.monotonic() - started < 15  # not hanging on LiveKit
        assert 'lang="vi"' in page and "chưa trả lời" in page and 'href="/"' in page
        _, s, _ = await call(http, down, "chair", "GET", f"/sessions/{session_id}")
        assert s["status"] == "scheduled"  # nothing launched

        await launch(world, http, "chair", session_id)  # LiveKit up: launched
        status, body, _ = await call(http, down, "chair", "POST", f"/sessions/{session_id}/end")
        assert status == 200 and body["status"] == "ended", body
    async with lkapi(world) as lk:
        await lk.room.delete_room(api.DeleteRoomRequest(room=f"ninh-binh-{session_id}"))
