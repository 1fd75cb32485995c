"""Finding 16, first half: the sign-in form is refused without its CSRF token (another site could
otherwise sign a visitor in under an account of its choosing), with a fresh form to go on."""

from __future__ import annotations

import re

import pytest

from orchestrator.web.router import API_PREFIX
from tests.form_login import login_form
from tests.integration.conftest import PASSWORD, World
from tests.security.conftest import Browser, NewAccount

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.mark.parametrize("token", [None, "", "mot-ma-gia-mao"])
async def test_a_login_without_its_csrf_token_is_refused(
    world: World, new_account: NewAccount, browser_from: Browser, token: str | None
) -> None:
    username = await new_account()
    async with browser_from() as browser:
        form = {"username": username, "password": PASSWORD, "next": "/central"}
        if token is not None:
            await login_form(browser, world.base_url)  # the session has a token; this is not it
            form["csrf_token"] = token
        async with browser.post(world.base_url + "/login", data=form, allow_redirects=False) as r:
            assert r.status == 403
            page = await r.text()
        assert "Biểu mẫu đăng nhập đã hết hạn" in page
        async with browser.get(world.base_url + API_PREFIX + "/me") as r:
            assert r.status == 401
        # The way back: the page is a fresh form, whose token works, and it keeps the name and
        # where to go afterwards.
        fresh = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page))
        assert fresh["next"] == "/central" and f'value="{username}"' in page
        form |= fresh
        async with browser.post(world.base_url + "/login", data=form, allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/central"
