"""Signing in through the login form as a browser does: the form first, for its hidden fields."""

from __future__ import annotations

import re

import aiohttp

_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')


async def login_form(
    browser: aiohttp.ClientSession, base_url: str, next_path: str = "/"
) -> dict[str, str]:
    """The hidden fields (``next``, ``csrf_token``) of the form ``GET /login`` serves."""
    async with browser.get(base_url + "/login", params={"next": next_path}) as r:
        assert r.status == 200
        return dict(_HIDDEN.findall(await r.text()))
