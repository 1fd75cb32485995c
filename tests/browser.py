"""What a person does in the browser tests' Chromium, in one place."""

from __future__ import annotations

from playwright.async_api import Page, expect


async def open_signed_out(page: Page, link: str, username: str, password: str) -> None:
    """Open ``link`` without a session: it leads to the login form, then back to itself."""
    await page.goto(link)
    await expect(page.locator("h1")).to_have_text("Đăng nhập")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
