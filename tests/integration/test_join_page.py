"""The join page in headless Chromium against the real livekit-server of the local stack.

A small aiohttp app serves the page exactly as the orchestrator will (``render_join_page`` and the
bundle from ``STATIC_DIR``); the browser gets fake camera and microphone devices, and what it does
is checked on the server side through the LiveKit server API.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web
from livekit import api, rtc
from playwright.async_api import Browser, Page, expect

from config import Settings
from media import mint_token
from media.room_join import join
from orchestrator.live.join_page import JoinPageConfig, render_join_page
from orchestrator.web.html import STATIC_DIR
from tests.loopback import served

pytestmark = pytest.mark.asyncio(loop_scope="session")

T = TypeVar("T")

# Playwright's own waits are in milliseconds.
PAGE_TIMEOUT_MS = 30_000
SERVER_TIMEOUT_S = 20.0
GUEST_WIDTH, GUEST_HEIGHT, GUEST_RATE = 320, 180, 48000
# Chromium's fake devices always include a camera; this makes the page see none.
NO_CAMERA = """
(() => {
  const devices = navigator.mediaDevices;
  const getUserMedia = devices.getUserMedia.bind(devices);
  devices.getUserMedia = (constraints) =>
    constraints && constraints.video
      ? Promise.reject(new DOMException("Requested device not found", "NotFoundError"))
      : getUserMedia(constraints);
})();
"""
LEFT_PAGE = "<!doctype html><html lang='vi'><meta charset='utf-8'><p>Đã rời phiên.</p></html>"


def _lkapi(settings: Settings) -> api.LiveKitAPI:
    lk = settings.livekit
    return api.LiveKitAPI(lk.http_url, lk.api_key, lk.api_secret.get_secret_value())


@asynccontextmanager
async def _serve_join_page(config: JoinPageConfig) -> AsyncIterator[str]:
    """Serve ``/join`` (the page for ``config``), ``/static`` and ``/left`` on a free port.

    Yields the base URL. It is ``http://127.0.0.1``: getUserMedia needs a secure context, and
    loopback counts as one.
    """

    async def join(_request: web.Request) -> web.Response:
        return web.Response(text=render_join_page(config), content_type="text/html")

    async def left(_request: web.Request) -> web.Response:
        return web.Response(text=LEFT_PAGE, content_type="text/html")

    app = web.Application()
    app.router.add_get("/join", join)
    app.router.add_get("/left", left)
    app.router.add_static("/static", STATIC_DIR)
    async with served(app) as base_url:
        yield base_url


@asynccontextmanager
async def _open_page(
    browser: Browser, url: str, init_script: str | None = None
) -> AsyncIterator[Page]:
    """A page in a fresh browser context; its console is printed, so a failure shows it."""
    context = await browser.new_context(viewport={"width": 1100, "height": 700}, locale="vi-VN")
    if init_script is not None:
        await context.add_init_script(init_script)
    try:
        page = await context.new_page()
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        page.on("console", lambda message: print(f"[browser {message.type}] {message.text}"))
        await page.goto(url)
        yield page
    finally:
        await context.close()


def _token(
    settings: Settings, room: str, identity: str, *, listens: bool = True, **claims: Any
) -> str:
    """A 10-minute token to publish in ``room``, and (``listens``) to subscribe and send data."""
    return mint_token(
        settings.livekit,
        identity=identity,
        grants=api.VideoGrants(
            room_join=True,
            room=room,
            can_publish=True,
            can_subscribe=listens,
            can_publish_data=listens,
        ),
        ttl=timedelta(minutes=10),
        **claims,
    )


def _config(
    settings: Settings,
    token: str,
    room: str,
    display_name: str,
    connection_point: str,
    session_title: str = "Phiên thử",
) -> JoinPageConfig:
    """The join page of ``display_name`` at ``connection_point``, leaving to ``/left``."""
    return JoinPageConfig(
        livekit_url=settings.livekit.url, token=token, room_name=room, display_name=display_name,
        connection_point=connection_point, session_title=session_title, leave_url="/left",
        recording=False, recorder_label="KHÔNG GHI",
    )  # fmt: skip


@asynccontextmanager
async def _join_page_in_room(
    settings: Settings,
    browser: Browser,
    config: JoinPageConfig,
    *,
    recording: bool = False,
    init_script: str | None = None,
) -> AsyncIterator[tuple[api.LiveKitAPI, Page]]:
    """The join page of ``config`` open in a fresh browser context, its room created (and said
    to be recording, or not) and deleted afterwards; yields the LiveKit API and the page."""
    metadata = json.dumps({"recording": True}) if recording else ""
    async with _lkapi(settings) as lkapi:
        room = config.room_name
        await lkapi.room.create_room(
            api.CreateRoomRequest(name=room, metadata=metadata, empty_timeout=60)
        )
        try:
            async with (
                _serve_join_page(config) as base_url,
                _open_page(browser, f"{base_url}/join", init_script) as page,
            ):
                yield lkapi, page
        finally:
            await lkapi.room.delete_room(api.DeleteRoomRequest(room=room))


async def _participant(
    lkapi: api.LiveKitAPI, room: str, identity: str
) -> api.ParticipantInfo | None:
    response = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room))
    return next((p for p in response.participants if p.identity == identity), None)


async def _eventually(
    probe: Callable[[], Awaitable[T | None]], what: str, timeout: float = SERVER_TIMEOUT_S
) -> T:
    """Poll ``probe`` until it returns something other than None (the server state is eventual)."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                found = await probe()
                if found is not None:
                    return found
                await asyncio.sleep(0.25)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


@asynccontextmanager
async def _guest(settings: Settings, room_name: str, identity: str) -> AsyncIterator[rtc.Room]:
    """A second participant (rtc SDK, no connection point) sending camera frames and sound."""
    lk = settings.livekit
    token = _token(settings, room_name, identity, listens=False, name="Khách thử")
    room = rtc.Room()
    await join(room, lk.url, token, rtc.RoomOptions(), timeout_s=SERVER_TIMEOUT_S)
    video = rtc.VideoSource(GUEST_WIDTH, GUEST_HEIGHT)
    audio = rtc.AudioSource(GUEST_RATE, 1)
    for track, source in (
        (rtc.LocalVideoTrack.create_video_track("camera", video), rtc.TrackSource.SOURCE_CAMERA),
        (rtc.LocalAudioTrack.create_audio_track("mic", audio), rtc.TrackSource.SOURCE_MICROPHONE),
    ):
        await room.local_participant.publish_track(track, rtc.TrackPublishOptions(source=source))

    async def send() -> None:
        pixels = bytearray(b"\x20\x60\xa0\xff" * GUEST_WIDTH * GUEST_HEIGHT)
        samples = GUEST_RATE // 10
        while True:
            video.capture_frame(
                rtc.VideoFrame(GUEST_WIDTH, GUEST_HEIGHT, rtc.VideoBufferType.RGBA, pixels)
            )
            await audio.capture_frame(rtc.AudioFrame.create(GUEST_RATE, 1, samples))

    sending = asyncio.create_task(send(), name=f"guest-media-{identity}")
    try:
        yield room
    finally:
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending
        await room.disconnect()


def _track(info: api.ParticipantInfo, source: int) -> api.TrackInfo | None:
    return next((t for t in info.tracks if t.source == source), None)


async def test_join_page_publishes_mutes_and_leaves(
    local_stack: Settings, unique_name: str, browser: Browser, artifacts_dir: Path
) -> None:
    """A citizen joins with fake camera and microphone, sees the recording state, mutes, leaves."""
    identity = f"{unique_name}-citizen"
    connection_point = "Điểm cầu Hà Giang"
    token = _token(
        local_stack,
        unique_name,
        identity,
        name="Nguyễn Văn An",
        # The orchestrator sets the connection point as an attribute; the page also reads the
        # older JSON metadata form, and the attribute wins.
        attributes={"connection_point": connection_point},
        metadata=json.dumps({"connection_point": "Điểm cầu cũ"}),
    )
    title = "Tiếp công dân định kỳ — tháng 11 </script><b>"
    config = _config(local_stack, token, unique_name, "Nguyễn Văn An", connection_point, title)
    async with _join_page_in_room(local_stack, browser, config, recording=True) as (lkapi, page):
        await page.wait_for_selector("body[data-state=connected]")
        await page.wait_for_selector("body[data-media]")
        assert await page.evaluate("document.body.dataset.media") == "camera+microphone"
        # The title went through |tojson and autoescape: shown as text, never parsed.
        await expect(page.get_by_role("heading", level=1)).to_have_text(config.session_title)
        await expect(page.get_by_role("heading", name=connection_point)).to_be_visible()

        async def published() -> api.ParticipantInfo | None:
            info = await _participant(lkapi, unique_name, identity)
            if info is None:
                return None
            mic = _track(info, api.TrackSource.MICROPHONE)
            camera = _track(info, api.TrackSource.CAMERA)
            return info if mic is not None and camera is not None else None

        info = await _eventually(published, "camera and microphone tracks")
        mic = _track(info, api.TrackSource.MICROPHONE)
        camera = _track(info, api.TrackSource.CAMERA)
        assert mic is not None and mic.type == api.TrackType.AUDIO and not mic.muted
        assert camera is not None and camera.type == api.TrackType.VIDEO
        assert info.name == "Nguyễn Văn An"

        # Someone with no connection point: grouped under "Khác", after the named point;
        # their camera plays in a video element and their sound in an audio element.
        guest_identity = f"{unique_name}-guest"
        async with _guest(local_stack, unique_name, guest_identity):
            tile = page.locator(f'.tile[data-identity="{guest_identity}"]')
            await expect(tile).to_be_visible()
            await expect(tile.locator("figcaption")).to_have_text("Khách thử")
            headings = page.locator("#stage h2")
            await expect(headings).to_have_text([connection_point, "Khác"])
            await page.wait_for_function(
                """identity => {
                    const tile = document.querySelector(
                        `.tile[data-identity="${identity}"]`);
                    return tile && tile.querySelector("video").videoWidth > 0
                        && tile.querySelector("audio") !== null;
                }""",
                arg=guest_identity,
            )
            await page.screenshot(path=artifacts_dir / "join-page-with-guest.png")
        await expect(page.locator(f'.tile[data-identity="{guest_identity}"]')).to_have_count(0)
        await expect(page.locator("#stage h2")).to_have_text([connection_point])

        recording = page.locator("#recording")
        await expect(recording).to_be_visible()
        await expect(recording).to_have_text("● ĐANG GHI")
        await lkapi.room.update_room_metadata(
            api.UpdateRoomMetadataRequest(
                room=unique_name, metadata=json.dumps({"recording": False})
            )
        )
        await expect(recording).to_have_text("KHÔNG GHI")
        await expect(recording).to_have_class("off")
        await lkapi.room.update_room_metadata(
            api.UpdateRoomMetadataRequest(
                room=unique_name, metadata=json.dumps({"recording": True})
            )
        )
        await expect(recording).to_have_text("● ĐANG GHI")

        await page.get_by_role("button", name="Tắt mic").click()
        await expect(page.get_by_role("button", name="Bật mic")).to_be_visible()

        async def mic_muted() -> bool | None:
            info = await _participant(lkapi, unique_name, identity)
            track = None if info is None else _track(info, api.TrackSource.MICROPHONE)
            return True if track is not None and track.muted else None

        await _eventually(mic_muted, "the microphone muted on the server")
        await page.screenshot(path=artifacts_dir / "join-page.png")

        await page.get_by_role("button", name="Rời phiên").click()
        await page.wait_for_url("**/left")

        async def gone() -> bool | None:
            info = await _participant(lkapi, unique_name, identity)
            return True if info is None else None

        await _eventually(gone, "the participant to leave")


async def test_join_page_with_invalid_token_shows_error(
    local_stack: Settings, unique_name: str, browser: Browser, artifacts_dir: Path
) -> None:
    """A token the server rejects ends in ``data-state=error`` and a Vietnamese message.

    Bad input: the token is well formed but signed with a secret the server does not know, the
    way a forged or stale launch link would carry one; the room exists, so only the token is wrong.
    """
    lk = local_stack.livekit
    forged = (
        api.AccessToken(lk.api_key, "not-the-server-secret-" + "x" * 32)
        .with_identity(f"{unique_name}-forger")
        .with_grants(api.VideoGrants(room_join=True, room=unique_name))
        .to_jwt()
    )
    config = _config(local_stack, forged, unique_name, "Người lạ", "Không rõ")
    async with _join_page_in_room(local_stack, browser, config) as (lkapi, page):
        await page.wait_for_selector("body[data-state=error]")
        error = page.get_by_role("alert")
        await expect(error).to_be_visible()
        await expect(error).to_contain_text("Không được phép vào phiên")
        await expect(page.locator("#status")).to_have_text("Không kết nối được")
        await expect(page.get_by_role("button", name="Rời phiên")).to_be_disabled()
        await page.screenshot(path=artifacts_dir / "join-page-invalid-token.png")
        listed = await lkapi.room.list_participants(api.ListParticipantsRequest(room=unique_name))
        assert list(listed.participants) == []


async def test_join_page_without_camera_joins_with_sound_only(
    local_stack: Settings, unique_name: str, browser: Browser
) -> None:
    """No camera: the page says so in Vietnamese and publishes the microphone alone."""
    identity = f"{unique_name}-nocam"
    token = _token(local_stack, unique_name, identity)
    config = _config(local_stack, token, unique_name, "Trần Thị Bình", "Điểm cầu Lào Cai")
    joined = _join_page_in_room(local_stack, browser, config, init_script=NO_CAMERA)
    async with joined as (lkapi, page):
        await page.wait_for_selector("body[data-state=connected][data-media]")
        assert await page.evaluate("document.body.dataset.media") == "microphone"
        await expect(page.locator("#notice")).to_have_text(
            "Không có camera: tham gia bằng âm thanh."
        )
        await expect(page.get_by_role("button", name="Bật camera")).to_be_visible()

        async def microphone_only() -> api.ParticipantInfo | None:
            info = await _participant(lkapi, unique_name, identity)
            return info if info is not None and len(info.tracks) > 0 else None

        info = await _eventually(microphone_only, "the microphone track")
        assert [t.source for t in info.tracks] == [api.TrackSource.MICROPHONE]
