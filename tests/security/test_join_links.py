"""Finding 1: a guest's join link lets its holder into the room under the guest's name, so only
those who invite (the session's office, its chair, admins) see or re-issue links, each reading
is audited, a join by link names the invitation used, and a re-issued link revokes the old one
(refused with a Vietnamese page that says so)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from livekit import api
from sqlalchemy import select

from orchestrator.db.models import AuditEntry
from tests.integration.conftest import World
from tests.integration.test_launch import launch, lkapi, new_session_now
from tests.integration.test_orchestrator_api import call

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def invited_citizen(world: World, http: aiohttp.ClientSession) -> tuple[int, dict[str, Any]]:
    """A session about to start with one invited citizen: its id and the invitation."""
    session_id = await new_session_now(world, http)
    status, invitation, _ = await call(
        http, world, "officer", "POST", f"/sessions/{session_id}/invitations",
        json={"kind": "citizen", "display_name": "Nguyễn Văn C"},
    )  # fmt: skip
    assert status == 201 and invitation["join_url"], invitation
    return session_id, invitation


async def audits(world: World, action: str, session_id: int) -> list[AuditEntry]:
    async with world.db() as db:
        rows = await db.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == action, AuditEntry.target == f"session:{session_id}")
            .order_by(AuditEntry.id)
        )
        return list(rows)


async def test_only_those_who_invite_see_join_links(
    world: World, http: aiohttp.ClientSession
) -> None:
    session_id, invitation = await invited_citizen(world, http)
    path = f"/sessions/{session_id}/invitations"
    for who in ("archivist", "observer"):  # both may see the session, neither may invite
        status, rows, _ = await call(http, world, who, "GET", path)
        assert status == 200 and [r["id"] for r in rows] == [invitation["id"]]
        assert rows[0]["join_url"] is None, who
    for who in ("officer", "chair", "admin"):
        status, rows, _ = await call(http, world, who, "GET", path)
        assert status == 200 and rows[0]["join_url"] == invitation["join_url"], who
    reads = await audits(world, "invitation.links_read", session_id)
    readers = [row.actor_user_id for row in reads]
    assert readers == [world.users[who] for who in ("officer", "chair", "admin")]


async def test_a_reissued_link_revokes_the_old_one_and_a_join_names_its_invitation(
    world: World, http: aiohttp.ClientSession
) -> None:
    session_id, invitation = await invited_citizen(world, http)
    room = f"{world.province_code}-{session_id}"
    path = f"/sessions/{session_id}/invitations/{invitation['id']}/link"
    for who in ("archivist", "observer"):
        status, problem, _ = await call(http, world, who, "POST", path)
        assert status == 403, problem
    status, reissued, _ = await call(http, world, "officer", "POST", path)
    assert status == 200, reissued
    old_url, new_url = invitation["join_url"], reissued["join_url"]
    assert new_url != old_url and reissued["identity"] == invitation["identity"]

    await launch(world, http, "chair", session_id)
    try:
        async with http.get(old_url) as r:
            page = await r.text()
            assert r.status == 410 and 'lang="vi"' in page
            assert "Liên kết này đã được thay bằng một liên kết mới" in page
        async with http.get(new_url) as r:
            assert r.status == 200, await r.text()
    finally:
        async with lkapi(world) as lk:
            await lk.room.delete_room(api.DeleteRoomRequest(room=room))
    joins = await audits(world, "session.join", session_id)
    assert [(j.outcome, j.detail.get("invitation")) for j in joins] == [
        ("denied", invitation["id"]), ("allowed", invitation["id"])
    ]  # fmt: skip
    assert joins[0].detail["reason"] == "link_revoked"
    (reissue,) = await audits(world, "invitation.reissue", session_id)
    assert reissue.actor_user_id == world.users["officer"]
