"""What a person does in the browser tests' Chromium, in one place."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from playwright.async_api import Browser, Page, expect


async def open_signed_out(page: Page, link: str, username: str, password: str) -> None:
    """Open ``link`` without a session: it leads to the login form, then back to itself."""
    await page.goto(link)
    await expect(page.locator("h1")).to_have_text("Đăng nhập")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")


@contextlib.asynccontextmanager
async def signed_in_page(
    browser: Browser, link: str, username: str, password: str
) -> AsyncIterator[Page]:
    """A page of a browser context of its own (Vietnamese), at ``link`` once signed in there as
    :func:`open_signed_out` does; the context is closed afterwards."""
    context = await browser.new_context(locale="vi-VN")
    try:
        page = await context.new_page()
        await open_signed_out(page, link, username, password)
        yield page
    finally:
        await context.close()
