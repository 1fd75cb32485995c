"""An officer's click, as a person makes it: the calendar's launch link in headless Chromium,
the login form, the redirect, and the join page publishing camera and microphone."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from livekit import api
from playwright.async_api import Browser, expect

from tests.browser import signed_in_page
from tests.integration.conftest import PASSWORD, World
from tests.integration.test_launch import eventually, launch_link, lkapi, new_session_now

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_chair_launches_from_the_calendar_link_and_joins(
    world: World, http: aiohttp.ClientSession, browser: Browser, artifacts_dir: Path
) -> None:
    session_id = await new_session_now(world, http)
    link = await launch_link(world, http, "chair", session_id)
    async with signed_in_page(browser, link, world.usernames["chair"], PASSWORD) as page:
        await page.wait_for_url(f"**/sessions/{session_id}/join", timeout=30_000)
        await expect(page.locator("body")).to_have_attribute("data-state", "connected",
                                                              timeout=30_000)  # fmt: skip
        room = f"{world.province_code}-{session_id}"
        identity = f"user-{world.users['chair']}"

        async with lkapi(world) as lk:

            async def published() -> list[int]:
                listed = await lk.room.list_participants(api.ListParticipantsRequest(room=room))
                return [p.tracks for p in listed.participants if p.identity == identity and
                        len(p.tracks) >= 2]  # fmt: skip

            assert await eventually(published, timeout=20)
            await page.screenshot(path=str(artifacts_dir / "launch-join-chair.png"))
            await lk.room.delete_room(api.DeleteRoomRequest(room=room))


async def test_launch_link_of_someone_else_shows_why_in_vietnamese(
    world: World, http: aiohttp.ClientSession, browser: Browser, artifacts_dir: Path
) -> None:
    session_id = await new_session_now(world, http)
    link = await launch_link(world, http, "chair", session_id)
    async with signed_in_page(browser, link, world.usernames["officer"], PASSWORD) as page:
        await expect(page.locator("body")).to_contain_text("được cấp cho người khác")
        await page.screenshot(path=str(artifacts_dir / "launch-other-user.png"))
