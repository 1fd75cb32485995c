"""Finding 11: a guest (no account, only a link) is invited as a citizen or a connection point,
never as a hidden central observer or with staff rights: those kinds are refused with a
Vietnamese problem, and nothing is created."""

from __future__ import annotations

import aiohttp
import pytest

from tests.integration.conftest import World
from tests.integration.test_launch import new_session_now
from tests.integration.test_orchestrator_api import call

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.mark.parametrize("kind", ["central_observer", "officer", "chair", "recorder", "bridge"])
async def test_a_guest_gets_no_more_than_a_guests_grants(
    world: World, http: aiohttp.ClientSession, kind: str
) -> None:
    session_id = await new_session_now(world, http)
    path = f"/sessions/{session_id}/invitations"
    status, problem, content_type = await call(
        http, world, "officer", "POST", path, json={"kind": kind, "display_name": "Người lạ"}
    )
    assert status == 422 and content_type == "application/problem+json", problem
    assert problem["detail"].startswith(("Khách mời không có tài khoản", "Không mời được"))
    status, rows, _ = await call(http, world, "officer", "GET", path)
    assert status == 200 and rows == []


@pytest.mark.parametrize("kind", ["citizen", "connection_point"])
async def test_a_guest_is_a_citizen_or_a_connection_point(
    world: World, http: aiohttp.ClientSession, kind: str
) -> None:
    session_id = await new_session_now(world, http)
    status, invitation, _ = await call(
        http, world, "officer", "POST", f"/sessions/{session_id}/invitations",
        json={"kind": kind, "display_name": "Điểm cầu xã"},
    )  # fmt: skip
    assert status == 201 and invitation["kind"] == kind and invitation["join_url"], invitation
