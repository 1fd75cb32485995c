"""The central dashboard in headless Chromium, its event stream, and the observer count shown
to the provincial officers — against the real orchestrator, LiveKit and rtc bots."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from livekit import api, rtc
from playwright.async_api import Browser, expect

from tests.audio import sine
from tests.bridge_rooms import RATE, create_room, play_forever, voice
from tests.browser import open_signed_out, signed_in_page
from tests.integration.conftest import PASSWORD, World
from tests.integration.test_launch import call, eventually, launch, lkapi, new_session_now
from tests.integration.test_orchestrator_api import session_body

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_dashboard_shows_a_session_going_live_and_ending(
    world: World, http: aiohttp.ClientSession, browser: Browser, artifacts_dir: Path
) -> None:
    central, observer = world.base_url + "/central", world.usernames["observer"]
    async with signed_in_page(browser, central, observer, PASSWORD) as page:
        await page.wait_for_url("**/central", timeout=30_000)
        await expect(page.locator("body")).to_have_attribute("data-state", "live", timeout=15_000)

        session_id = await new_session_now(world, http)
        await launch(world, http, "chair", session_id)
        launched = time.monotonic()
        row = page.locator(f"tr[data-session-id='{session_id}']")
        await expect(row).to_be_visible(timeout=15_000)
        print(f"live session on the dashboard {time.monotonic() - launched:.2f} s after launch")
        await expect(row).to_contain_text("Ninh Bình")
        await expect(row).to_contain_text("Chair")  # the chair's display name

        room = f"{world.province_code}-{session_id}"
        joined = time.monotonic()
        citizen = await voice(world.settings.livekit, room, "Bà Nguyễn Thị Lan", "UBND xã Gia Viễn")
        player = asyncio.create_task(play_forever(citizen, sine(440, 1.0, RATE)))
        try:
            await expect(row.locator(".points")).to_contain_text("UBND xã Gia Viễn: 1",
                                                                 timeout=15_000)  # fmt: skip
            print(f"participant on the dashboard {time.monotonic() - joined:.2f} s after joining")
            async with lkapi(world) as lk:
                hall = await create_room(lk, "tw-hall")
            status, _, _ = await call(http, world, "observer", "POST", "/bridges",
                                      json={"central_room": hall, "session_id": session_id,
                                            "video": True})  # fmt: skip
            assert status == 201
            # No media agent runs here: the bridge waits for one, and says so.
            await expect(row.locator(".bridges")).to_contain_text(
                "Ban Tiếp công dân Trung ương (chờ kết nối, chỉ nghe, có hình)", timeout=10_000
            )
            await expect(row.locator(".speaking")).to_contain_text("Bà Nguyễn Thị Lan",
                                                                   timeout=15_000)  # fmt: skip
            # Filtering by another province hides it; back to all shows it again.
            await page.select_option("#province", "ha-noi")
            await expect(row).to_have_count(0, timeout=10_000)
            await page.select_option("#province", "ninh-binh")
            await expect(row).to_be_visible(timeout=10_000)
            await page.screenshot(path=str(artifacts_dir / "central-dashboard-live.png"))
        finally:
            player.cancel()
            await citizen.aclose()

        ended = time.monotonic()
        status, _, _ = await call(http, world, "chair", "POST", f"/sessions/{session_id}/end")
        assert status == 200
        await expect(row).to_have_count(0, timeout=15_000)
        print(f"ended session gone from the dashboard {time.monotonic() - ended:.2f} s after")


async def test_provincial_join_page_shows_how_many_central_observers_listen(
    world: World, http: aiohttp.ClientSession, browser: Browser, artifacts_dir: Path
) -> None:
    session_id = await new_session_now(world, http)
    join_url = await launch(world, http, "chair", session_id)
    context = await browser.new_context(locale="vi-VN")
    page = await context.new_page()
    observer = rtc.Room()
    try:
        await open_signed_out(page, join_url, world.usernames["chair"], PASSWORD)
        await expect(page.locator("body")).to_have_attribute("data-state", "connected",
                                                              timeout=30_000)  # fmt: skip
        await expect(page.locator("#observers")).to_be_hidden()
        _, grant, _ = await call(http, world, "observer", "POST", f"/sessions/{session_id}/listen")
        await observer.connect(grant["livekit_url"], grant["token"])
        await expect(page.locator("#observers")).to_have_text(
            "Ban Tiếp công dân Trung ương đang theo dõi: 1", timeout=15_000
        )
        await page.screenshot(path=str(artifacts_dir / "join-central-observers.png"))
        await observer.disconnect()
        await expect(page.locator("#observers")).to_be_hidden(timeout=15_000)
    finally:
        await context.close()
        async with lkapi(world) as lk:
            await lk.room.delete_room(
                api.DeleteRoomRequest(room=f"{world.province_code}-{session_id}")
            )


async def test_dashboard_is_for_central_observers_and_admins_only(
    world: World, http: aiohttp.ClientSession
) -> None:
    async with http.get(world.base_url + "/central", allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"] == "/login?next=/central"
    async with http.get(world.base_url + "/central", headers=world.headers("officer")) as r:
        assert r.status == 403
        assert "Ban Tiếp công dân Trung ương" in await r.text()
    async with http.get(world.base_url + "/central/events", headers=world.headers("chair")) as r:
        assert r.status == 403 and r.content_type == "application/problem+json"
    async with http.get(world.base_url + "/central/events") as r:
        assert r.status == 401
    async with http.get(world.base_url + "/central/events?province=Ninh%20B%C3%ACnh",
                        headers=world.headers("observer")) as r:  # fmt: skip
        assert r.status == 400
        assert "Mã tỉnh" in (await r.json(content_type=None))["detail"]


async def test_event_stream_hides_restricted_sessions_from_uncleared_observers(
    world: World, http: aiohttp.ClientSession
) -> None:
    open_id = await new_session_now(world, http)
    start = datetime.now(UTC) + timedelta(minutes=10)
    body = session_body(world, starts_at=start.isoformat(), restricted=True,
                        ends_at=(start + timedelta(hours=1)).isoformat())  # fmt: skip
    status, (created,), _ = await call(http, world, "chair", "POST", "/sessions", json=body)
    assert status == 201
    secret = int(created["id"])
    for session_id in (open_id, secret):
        await launch(world, http, "chair", session_id)

    async def seen_by(who: str) -> set[int]:
        async with http.get(world.base_url + "/central/events", headers=world.headers(who)) as r:
            assert r.status == 200 and r.content_type == "text/event-stream"
            async for line in r.content:
                if line.startswith(b"data: "):
                    return {s["id"] for s in json.loads(line[6:])["sessions"]}
        return set()

    async def both_live() -> bool:
        return {open_id, secret} <= await seen_by("admin")

    assert await eventually(both_live)
    seen = await seen_by("observer")  # the seeded observer is not cleared
    assert open_id in seen and secret not in seen
    async with lkapi(world) as lk:
        for session_id in (open_id, secret):
            await lk.room.delete_room(
                api.DeleteRoomRequest(room=f"{world.province_code}-{session_id}")
            )


async def test_observer_asks_to_speak_the_chair_approves_then_revokes_in_the_browser(
    world: World, http: aiohttp.ClientSession, browser: Browser, artifacts_dir: Path
) -> None:
    session_id = await new_session_now(world, http)
    join_url = await launch(world, http, "chair", session_id)
    room = f"{world.province_code}-{session_id}"
    identity = f"user-{world.users['observer']}"
    chair_context = await browser.new_context(locale="vi-VN")
    observer_context = await browser.new_context(locale="vi-VN")
    chair, observer = await chair_context.new_page(), await observer_context.new_page()

    async def observer_in_room() -> api.ParticipantInfo | None:
        async with lkapi(world) as lk:
            listed = await lk.room.list_participants(api.ListParticipantsRequest(room=room))
        return next((p for p in listed.participants if p.identity == identity), None)

    try:
        await open_signed_out(chair, join_url, world.usernames["chair"], PASSWORD)
        await open_signed_out(observer, join_url, world.usernames["observer"], PASSWORD)
        for page in (chair, observer):
            await expect(page.locator("body")).to_have_attribute("data-state", "connected",
                                                                  timeout=30_000)  # fmt: skip
        await expect(observer.locator("#notice")).to_contain_text("không nhìn thấy bạn")
        joined = await eventually(observer_in_room)
        assert joined.permission.hidden and not joined.tracks  # listening unseen, no media

        await observer.click("#ask-speak")
        await expect(observer.locator("#ask-speak")).to_have_text("Đã xin phát biểu, chờ chủ trì…")
        request = chair.locator("#speak-requests li")
        await expect(request).to_contain_text("Observer (đang chờ)", timeout=10_000)
        await chair.click("#speak-requests button[data-action=approve]")
        await expect(observer.locator("#notice")).to_contain_text("cho phép bạn phát biểu",
                                                                  timeout=10_000)  # fmt: skip

        async def speaking() -> bool:
            p = await observer_in_room()
            return p is not None and not p.permission.hidden and len(p.tracks) == 1

        assert await eventually(speaking)
        await chair.screenshot(path=str(artifacts_dir / "join-speak-request-approved.png"))
        await chair.click("#speak-requests button[data-action=revoke]")
        await expect(observer.locator("#notice")).to_contain_text("Lượt phát biểu đã kết thúc",
                                                                  timeout=10_000)  # fmt: skip

        async def silenced() -> bool:
            p = await observer_in_room()
            return p is not None and p.permission.hidden and not p.permission.can_publish

        assert await eventually(silenced)
        await expect(chair.locator("#speak-requests")).to_be_hidden(timeout=10_000)
    finally:
        await chair_context.close()
        await observer_context.close()
        async with lkapi(world) as lk:
            await lk.room.delete_room(api.DeleteRoomRequest(room=room))
