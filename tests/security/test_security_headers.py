"""Finding 10: every answer carries the security headers, and the pages satisfy their
Content-Security-Policy in a real Chromium: no script or style the policy refuses on the login
page, the start page, the launch link and the join page it leads to, the search page, the
player (playing an archived recording from the object store) and the central board; and no page
can be framed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from config import Settings
from orchestrator.core.vocabulary import SessionKind, SessionStatus
from orchestrator.db.models import ReceptionSession
from orchestrator.web.security_headers import security_headers
from storage import make_s3_client
from storage.archive import SessionPlace, archive_directory, signing_key
from tests.browser import open_signed_out
from tests.integration.conftest import PASSWORD, World
from tests.integration.test_archive import NOW, session_dir
from tests.integration.test_launch import launch_link, new_session_now

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Chromium reports each refusal to the page as a securitypolicyviolation event: the page says it
# on the console, where the test hears it (an init script runs before the page's own, unrefused).
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  console.error(`csp-violation ${e.effectiveDirective} ${e.blockedURI} ${where}`);
});
"""

ANSWERS = [
    "/login",  # a page
    "/api/v1/me",  # the API (a 401)
    "/static/site.css",  # a static file
    "/api/v1/khong-co",  # aiohttp's own 404, as ours
    "/khong-co",
]


@pytest.mark.parametrize("path", ANSWERS)
async def test_every_answer_carries_the_headers(
    world: World, http: aiohttp.ClientSession, path: str
) -> None:
    async with http.get(world.base_url + path, allow_redirects=False) as r:
        csp = r.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp
        assert "script-src 'self';" in csp and "style-src 'self';" in csp
        assert "unsafe" not in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Referrer-Policy"] == "no-referrer"
        assert "Server" not in r.headers  # no aiohttp or Python version
        assert "Strict-Transport-Security" not in r.headers  # served over plain http here


async def test_hsts_only_when_public_over_https(local_stack: Settings) -> None:
    def with_url(url: str) -> Settings:
        return local_stack.model_copy(
            update={"web": local_stack.web.model_copy(update={"public_url": url})}
        )

    hsts = security_headers(with_url("https://tiepdan.example.gov.vn"))["Strict-Transport-Security"]
    assert hsts.startswith("max-age=31536000")
    assert "Strict-Transport-Security" not in security_headers(with_url("http://127.0.0.1:8080"))


@asynccontextmanager
async def _watched(browser: Browser) -> AsyncIterator[tuple[BrowserContext, list[str]]]:
    """A browser context whose CSP violations and console errors are collected, every page."""
    context = await browser.new_context(locale="vi-VN")
    await context.add_init_script(REPORT_VIOLATIONS)
    errors: list[str] = []

    def heard(page: Page) -> None:
        def on_console(message: object) -> None:
            text, kind = message.text, message.type  # type: ignore[attr-defined]
            print(f"[browser {kind}] {page.url}: {text}")
            if kind == "error" and ("csp-violation" in text or "Content Security Policy" in text):
                errors.append(f"{page.url}: {text}")

        page.on("console", on_console)
        page.on("pageerror", lambda e: errors.append(f"{page.url}: uncaught {e}"))

    context.on("page", heard)
    try:
        yield context, errors
    finally:
        await context.close()


async def _archived_session(world: World, tmp_path: Path) -> int:
    """A session archived for real: the player's audio is a presigned URL of the object store
    (another origin, which the policy must let the player play)."""
    async with world.db() as db:
        row = ReceptionSession(
            title="Phiên thử nghe lại", kind=SessionKind.AD_HOC,
            agency_id=world.agencies["ninh-binh"], starts_at=NOW, ends_at=NOW + timedelta(hours=1),
            status=SessionStatus.ARCHIVED,
        )  # fmt: skip
        db.add(row)
        await db.commit()
    settings = world.settings
    await asyncio.to_thread(
        archive_directory, make_s3_client(settings.s3), settings.s3, signing_key(settings),
        SessionPlace(row.id, "ninh-binh", NOW.year), session_dir(tmp_path, "csp"),
    )  # fmt: skip
    return row.id


async def _audio_loads(page: Page, timeout_s: float = 15.0) -> None:
    """Wait until the player's audio has its metadata (page.wait_for_function would evaluate a
    string in the page, which the policy itself refuses)."""
    for _ in range(int(timeout_s * 10)):
        if await page.locator("#audio").evaluate("audio => audio.readyState") >= 1:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the archived recording did not load in the player")


@pytest.mark.postgresql_only
async def test_pages_satisfy_the_policy(
    world: World, http: aiohttp.ClientSession, browser: Browser, corpus: dict[str, int],
    tmp_path: Path,
) -> None:  # fmt: skip
    archived = await _archived_session(world, tmp_path)
    session_id = await new_session_now(world, http)
    link = await launch_link(world, http, "chair", session_id)
    async with _watched(browser) as (context, errors):
        page = await context.new_page()
        # The launch link → the login page → back to the link → the join page, in the room.
        await open_signed_out(page, link, world.usernames["chair"], PASSWORD)
        await page.wait_for_url(f"**/sessions/{session_id}/join", timeout=30_000)
        await expect(page.locator("body")).to_have_attribute("data-state", "connected",
                                                              timeout=30_000)  # fmt: skip
        await expect(page.locator("#leave")).to_be_enabled()
        await page.goto(world.base_url + "/")
        await expect(page.locator("h1")).to_be_visible()
        await page.goto(world.base_url + f"/sessions/{session_id}/join")  # the chair's controls
        await expect(page.locator("body")).to_have_attribute("data-state", "connected",
                                                              timeout=30_000)  # fmt: skip
        await page.click("#leave")
    async with _watched(browser) as (context, more):
        page = await context.new_page()
        await open_signed_out(page, world.base_url + "/archive/search?q=boi+thuong",
                              world.usernames["archivist"], PASSWORD)  # fmt: skip
        await expect(page.locator("li.hit").first).to_be_visible()
        await page.goto(world.base_url + f"/archive/sessions/{corpus['nb_land']}#t=9.5")
        await expect(page.locator(".utterance").first).to_be_visible()
        await page.goto(world.base_url + f"/archive/sessions/{archived}")
        await _audio_loads(page)
        errors += more
    async with _watched(browser) as (context, more):
        page = await context.new_page()
        await open_signed_out(page, world.base_url + "/central", world.usernames["observer"],
                              PASSWORD)  # fmt: skip
        await expect(page.locator("body")).to_have_attribute("data-state", "live", timeout=15_000)
        errors += more
    assert errors == []


@pytest.mark.parametrize("path", ["/login", "/sessions/1/join", "/central"])
async def test_no_page_can_be_framed(world: World, browser: Browser, path: str) -> None:
    async with _watched(browser) as (context, _errors):
        page = await context.new_page()
        await page.set_content(f'<iframe src="{world.base_url}{path}"></iframe>')
        frame = page.frames[-1]
        await frame.wait_for_load_state()
        assert frame.url != world.base_url + path or await frame.locator("h1").count() == 0
        assert await frame.locator("input[name=password]").count() == 0
