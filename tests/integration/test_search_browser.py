"""An archivist in headless Chromium: search, click a result, the player opens at that moment.

The recording is a real Ogg/Opus file made by ffmpeg. The archive's audited media endpoint
(``/api/v1/sessions/{id}/media/mixed.opus``) belongs to the archive issue; when it does not
answer (404) in this checkout, the page's request for it is answered with that file, with byte
ranges as an object store serves them, so what is tested here is the page.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, Route, expect

from tests.browser import open_signed_out
from tests.integration.conftest import PASSWORD, World

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _opus(path: Path, seconds: int = 40) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        "ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"sine=f=440:d={seconds}",
        "-c:a", "libopus", "-b:a", "32k", str(path),
    )  # fmt: skip
    assert await proc.wait() == 0
    return path.read_bytes()


def _serve_ranges(audio: bytes):  # type: ignore[no-untyped-def]
    async def handle(route: Route) -> None:
        wanted = route.request.headers.get("range", "")
        m = re.match(r"bytes=(\d+)-(\d*)", wanted)
        if not m:
            await route.fulfill(status=200, body=audio, content_type="audio/ogg",
                                headers={"Accept-Ranges": "bytes"})  # fmt: skip
            return
        start = int(m.group(1))
        end = int(m.group(2)) if m.group(2) else len(audio) - 1
        await route.fulfill(
            status=206, body=audio[start : end + 1], content_type="audio/ogg",
            headers={"Accept-Ranges": "bytes",
                     "Content-Range": f"bytes {start}-{end}/{len(audio)}"},
        )  # fmt: skip

    return handle


async def test_search_click_result_player_at_utterance(
    world: World, http: aiohttp.ClientSession, browser: Browser, artifacts_dir: Path,
    tmp_path: Path, corpus: dict[str, int],
) -> None:  # fmt: skip
    session_id = corpus["nb_land"]
    media = f"/api/v1/sessions/{session_id}/media/mixed.opus"
    # The corpus is indexed, never archived: its audio is a 404, so the browser gets a tone
    # (tests/e2e plays a real archived session through the real endpoint).
    async with http.get(world.base_url + media, headers=world.headers("archivist"),
                        allow_redirects=False) as r:  # fmt: skip
        assert r.status == 404, await r.text()
    context = await browser.new_context(locale="vi-VN")
    page = await context.new_page()
    await page.route(f"**{media}", _serve_ranges(await _opus(tmp_path / "mixed.opus")))
    try:
        await open_signed_out(
            page, f"{world.base_url}/archive/search", world.usernames["archivist"], PASSWORD
        )
        await expect(page.locator("h1")).to_have_text("Tìm kiếm nội dung các phiên tiếp công dân")

        # Typed without diacritics; the chair's line at 9.5 s is the hit.
        await page.fill("input[name=q]", "ho so boi thuong")
        await page.click("#search-form button[type=submit]")
        link = page.locator(f'a.hit-link[href="/archive/sessions/{session_id}#t=9.5"]')
        await expect(link).to_have_count(1)
        marks = page.locator("li.hit", has=link).locator("mark")
        await expect(marks).to_have_text(["sở", "hồ", "sơ", "bồi", "thường"])
        await link.click()

        await page.wait_for_url(f"**/archive/sessions/{session_id}#t=9.5")
        await page.wait_for_function(
            "Math.abs(document.getElementById('audio').currentTime - 9.5) < 0.5", timeout=15_000
        )
        current = page.locator(".utterance.current")
        await expect(current).to_have_attribute("data-start", "9.5")
        await expect(current.locator(".speaker")).to_have_text("Phạm Quang Ngọc")
        await page.screenshot(path=str(artifacts_dir / "archive-player.png"))

        # A click on another utterance seeks to it and updates the deep link.
        await page.locator('.utterance[data-start="16.0"]').click()
        await page.wait_for_function(
            "Math.abs(document.getElementById('audio').currentTime - 16.0) < 0.5", timeout=15_000
        )
        assert page.url.endswith("#t=16.0")
        await expect(page.locator(".utterance.current")).to_have_attribute("data-start", "16.0")

        # Search within the session, with or without diacritics.
        await page.fill("#within", "dat dai")
        await expect(page.locator(".utterance.match")).to_have_count(1)
        await expect(page.locator("#within-count")).to_have_text("1 đoạn")
        await page.fill("#within", "bồi thường")
        await expect(page.locator(".utterance.match")).to_have_count(2)
    finally:
        await context.close()
