"""Bridges, listen-in and requests to speak through the real orchestrator, LiveKit and agent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import jwt
import pytest
import pytest_asyncio
from livekit import api, rtc
from sqlalchemy import select

from orchestrator.db.models import AuditEntry
from orchestrator.web.router import API_PREFIX as PREFIX
from tests.audio import TONE_REL, dominant_frequency, sine
from tests.bridge_rooms import RATE, Ear, create_room, play_forever, rms, voice
from tests.integration.conftest import World
from tests.integration.test_launch import call, eventually, launch, lkapi, new_session_now
from tests.integration.test_media_agent import Agents, agents  # noqa: F401 - the fixture

HALL = "Ban Tiếp công dân Trung ương"


@pytest_asyncio.fixture
async def hub_room(world: World) -> AsyncIterator[str]:
    """The central hall's room."""
    async with lkapi(world) as lk:
        name = await create_room(lk, "tw-hall")
        yield name
        await lk.room.delete_room(api.DeleteRoomRequest(room=name))


async def live_session(world: World, http: aiohttp.ClientSession) -> tuple[int, str]:
    session_id = await new_session_now(world, http)
    await launch(world, http, "chair", session_id)
    return session_id, f"{world.province_code}-{session_id}"


async def audit_actions(world: World, target: str) -> list[tuple[str, str]]:
    async with world.db() as db:
        rows = await db.scalars(select(AuditEntry).where(AuditEntry.target == target))
        return [(r.action, r.outcome) for r in rows]


async def test_bridge_api_refuses_the_wrong_people_and_bad_input(
    world: World, http: aiohttp.ClientSession, hub_room: str
) -> None:
    session_id, room = await live_session(world, http)
    body = {"central_room": hub_room, "session_id": session_id}
    async with http.post(world.base_url + PREFIX + "/bridges", json=body) as r:
        assert r.status == 401
    for who in ("officer", "chair", "archivist"):
        status, problem, kind = await call(http, world, who, "POST", "/bridges", json=body)
        assert status == 403, (who, problem)
        assert kind == "application/problem+json"
    cases: list[tuple[dict[str, Any], int, str]] = [
        (body | {"central_room": "Phòng TW!"}, 422, "central_room"),
        (body | {"central_room": "tw-khong-co-phong"}, 422, "Không có phòng"),
        (body | {"central_room": room}, 422, "chính nó"),
        (body | {"session_id": 999_999}, 404, ""),
        (body | {"extra": 1}, 422, "extra"),
    ]
    for bad, expected, words in cases:
        status, problem, _ = await call(http, world, "observer", "POST", "/bridges", json=bad)
        assert status == expected, (bad, problem)
        assert words in problem["detail"]
    async with http.post(world.base_url + PREFIX + "/bridges", data=b"{not json",
                         headers=world.headers("observer")) as r:  # fmt: skip
        assert r.status == 400
    scheduled = await new_session_now(world, http)
    status, problem, _ = await call(http, world, "observer", "POST", "/bridges",
                                    json=body | {"session_id": scheduled})  # fmt: skip
    assert status == 409 and "chưa diễn ra" in problem["detail"]
    status, listed, _ = await call(http, world, "observer", "GET", "/bridges")
    assert session_id not in [b["session_id"] for b in listed]  # nothing was stored


async def test_bridge_lifecycle_talk_back_one_at_a_time_and_end_with_the_session(
    world: World, http: aiohttp.ClientSession, hub_room: str
) -> None:
    first, _ = await live_session(world, http)
    second, _ = await live_session(world, http)
    status, a, _ = await call(http, world, "observer", "POST", "/bridges",
                              json={"central_room": hub_room, "session_id": first,
                                    "talk_back": True})  # fmt: skip
    assert status == 201, a
    assert (a["session_name"], a["hub_name"], a["talk_back"]) == ("Ninh Bình", HALL, True)
    assert a["state"] == "waiting"
    status, dup, _ = await call(http, world, "admin", "POST", "/bridges",
                                json={"central_room": hub_room, "session_id": first})  # fmt: skip
    assert status == 409, dup
    status, b, _ = await call(http, world, "admin", "POST", "/bridges",
                              json={"central_room": hub_room, "session_id": second,
                                    "video": True})  # fmt: skip
    assert status == 201 and b["video"] is True
    # Talk-back to the second session: the first one stops hearing the hall.
    status, b, _ = await call(http, world, "observer", "PATCH", f"/bridges/{b['id']}",
                              json={"talk_back": True})  # fmt: skip
    assert status == 200 and b["talk_back"]
    _, listed, _ = await call(http, world, "observer", "GET", "/bridges")
    by_id = {x["id"]: x for x in listed}
    assert by_id[a["id"]]["talk_back"] is False and by_id[b["id"]]["talk_back"] is True
    status, _, _ = await call(http, world, "officer", "PATCH", f"/bridges/{b['id']}",
                              json={"talk_back": False})  # fmt: skip
    assert status == 403

    status, ended, _ = await call(http, world, "observer", "DELETE", f"/bridges/{b['id']}")
    assert status == 200 and ended["state"] == "ended"
    status, _, _ = await call(http, world, "observer", "PATCH", f"/bridges/{b['id']}",
                              json={"talk_back": True})  # fmt: skip
    assert status == 409
    # The first bridge ends with its session.
    status, _, _ = await call(http, world, "chair", "POST", f"/sessions/{first}/end")
    assert status == 200
    _, listed, _ = await call(http, world, "observer", "GET", "/bridges")
    assert {a["id"], b["id"]}.isdisjoint(x["id"] for x in listed)
    actions = await audit_actions(world, f"bridge:{b['id']}")
    assert ("bridge.create", "allowed") in actions and ("bridge.delete", "allowed") in actions
    assert ("bridge.talk_back", "allowed") in actions


@pytest.mark.postgresql_only
async def test_the_agent_runs_a_leased_bridge_both_ways_until_the_session_ends(
    world: World,
    http: aiohttp.ClientSession,
    hub_room: str,
    agents: Agents,  # noqa: F811
) -> None:
    lk = world.settings.livekit
    session_id, room = await live_session(world, http)
    body = {"central_room": hub_room, "session_id": session_id}
    status, bridge, _ = await call(http, world, "observer", "POST", "/bridges", json=body)
    assert status == 201
    up, down = f"bridge-{bridge['id']}-up", f"bridge-{bridge['id']}-down"
    agents.start("agent-bridge")
    citizen = await voice(lk, room, "citizen-nb")
    hall = await voice(lk, hub_room, "central-chair")
    players = [asyncio.create_task(play_forever(citizen, sine(440, 1.0, RATE))),
               asyncio.create_task(play_forever(hall, sine(880, 1.0, RATE)))]  # fmt: skip
    in_hub = await Ear.join(lk, hub_room, up)
    in_province = await Ear.join(lk, room, down)
    try:

        async def running() -> bool:
            _, listed, _ = await call(http, world, "observer", "GET", "/bridges")
            return any(x["id"] == bridge["id"] and x["state"] == "running" for x in listed)

        assert await eventually(running, timeout=30)
        await asyncio.sleep(1.5)
        assert dominant_frequency(await in_hub.hear(1.5), RATE) == pytest.approx(440, rel=TONE_REL)
        assert rms(await in_province.hear(1.0)) < 50  # talk-back off: the hall is not heard

        await call(http, world, "observer", "PATCH", f"/bridges/{bridge['id']}",
                   json={"talk_back": True})  # fmt: skip
        heard = await in_province.hear(5.0)  # a heartbeat, a track published, then the tone
        assert dominant_frequency(heard[-RATE:], RATE) == pytest.approx(880, rel=TONE_REL)

        status, _, _ = await call(http, world, "chair", "POST", f"/sessions/{session_id}/end")
        assert status == 200

        async def bridge_left_the_hall() -> bool:
            async with lkapi(world) as c:
                listed = await c.room.list_participants(api.ListParticipantsRequest(room=hub_room))
            return up not in {p.identity for p in listed.participants}

        assert await eventually(bridge_left_the_hall, timeout=15)
    finally:
        for task in players:
            task.cancel()
        for thing in (in_hub, in_province, citizen, hall):
            await thing.aclose()


async def test_listen_in_is_hidden_listen_only_and_audited(
    world: World, http: aiohttp.ClientSession
) -> None:
    session_id, room = await live_session(world, http)
    status, problem, _ = await call(http, world, "officer", "POST",
                                    f"/sessions/{session_id}/listen")  # fmt: skip
    assert status == 403, problem
    status, grant, _ = await call(http, world, "observer", "POST", f"/sessions/{session_id}/listen")
    assert status == 200 and grant["room"] == room
    video = jwt.decode(grant["token"], options={"verify_signature": False})["video"]
    assert video["hidden"] is True and video["canPublish"] is False
    assert ("session.listen_in", "allowed") in await audit_actions(world, f"session:{session_id}")

    citizen = await voice(world.settings.livekit, room, "citizen-seen")
    observer = rtc.Room()
    await observer.connect(grant["livekit_url"], grant["token"])
    try:
        await asyncio.sleep(1.0)
        assert grant["identity"] not in citizen.room.remote_participants  # unseen
        assert "citizen-seen" in observer.remote_participants  # but hears the room
    finally:
        await observer.disconnect()
        await citizen.aclose()


async def test_ask_to_speak_approve_and_revoke_change_the_participant_in_the_room(
    world: World, http: aiohttp.ClientSession
) -> None:
    session_id, room = await live_session(world, http)
    _, grant, _ = await call(http, world, "observer", "POST", f"/sessions/{session_id}/listen")
    observer = rtc.Room()
    await observer.connect(grant["livekit_url"], grant["token"])

    async def permission() -> api.ParticipantPermission:
        async with lkapi(world) as c:
            p = await c.room.get_participant(
                api.RoomParticipantIdentity(room=room, identity=grant["identity"])
            )
        return p.permission

    try:
        status, asked, _ = await call(http, world, "observer", "POST",
                                      f"/sessions/{session_id}/speak-requests")  # fmt: skip
        assert status == 201 and asked["state"] == "pending"
        status, _, _ = await call(http, world, "observer", "POST",
                                  f"/sessions/{session_id}/speak-requests")  # fmt: skip
        assert status == 409
        _, seen, _ = await call(http, world, "chair", "GET",
                                f"/sessions/{session_id}/speak-requests")  # fmt: skip
        assert [r["id"] for r in seen] == [asked["id"]] and seen[0]["display_name"] == "Observer"
        for who in ("observer", "other_officer"):
            status, _, _ = await call(http, world, who, "POST",
                                      f"/speak-requests/{asked['id']}/approve")  # fmt: skip
            assert status in (403, 404), who
        status, _, _ = await call(http, world, "chair", "POST",
                                  f"/speak-requests/{asked['id']}/revoke")  # fmt: skip
        assert status == 409  # not approved yet

        status, approved, _ = await call(http, world, "chair", "POST",
                                         f"/speak-requests/{asked['id']}/approve")  # fmt: skip
        assert status == 200 and approved["state"] == "approved"
        now = await permission()
        assert now.can_publish and not now.hidden
        assert list(now.can_publish_sources) == [api.TrackSource.MICROPHONE]

        status, revoked, _ = await call(http, world, "officer", "POST",
                                        f"/speak-requests/{asked['id']}/revoke")  # fmt: skip
        assert status == 200 and revoked["state"] == "revoked"
        now = await permission()
        assert not now.can_publish and now.hidden
        actions = await audit_actions(world, f"session:{session_id}")
        assert {("speak.request", "allowed"), ("speak.approved", "allowed"),
                ("speak.revoked", "allowed")} <= set(actions)  # fmt: skip
    finally:
        await observer.disconnect()
