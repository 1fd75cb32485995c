"""Finding 4: sessions are kept server-side, so signing out, a new password, a change of rights
and a disabled account end every session of that user at once: the cookie saved before answers
401, while other users' sessions go on. Also: a sign-in never keeps the session id it was given
(fixation), and Redis out of reach is a Vietnamese 503, not a 500."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from orchestrator.app import create_app
from orchestrator.db.models import AuditEntry
from orchestrator.web.router import API_PREFIX
from tests.form_login import login_form
from tests.integration.conftest import PASSWORD, World
from tests.loopback import served
from tests.security.conftest import Browser, NewAccount

pytestmark = pytest.mark.asyncio(loop_scope="session")

COOKIE = "tiepdan_session"  # the session cookie's name: what a browser (or a thief) holds
NEW_PASSWORD = "ba con voi nhảy dây dưới mưa"


async def sign_in(browser: aiohttp.ClientSession, world: World, username: str,
                  password: str = PASSWORD) -> str:  # fmt: skip
    """Sign ``browser`` in through the form; the session cookie it then holds."""
    form = await login_form(browser, world.base_url)
    form |= {"username": username, "password": password}
    async with browser.post(world.base_url + "/login", data=form, allow_redirects=False) as r:
        assert r.status == 303, await r.text()
    return cookie_of(browser)


def cookie_of(browser: aiohttp.ClientSession) -> str:
    (cookie,) = (c for c in browser.cookie_jar if c.key == COOKIE)
    return cookie.value


async def me_with(world: World, cookie: str) -> tuple[int, dict[str, Any]]:
    """``GET /api/v1/me`` with nothing but a saved cookie, as someone who copied it would."""
    headers = {"Cookie": f"{COOKIE}={cookie}"}
    async with (
        aiohttp.ClientSession() as bare,
        bare.get(world.base_url + API_PREFIX + "/me", headers=headers) as r,
    ):
        return r.status, await r.json(content_type=None)


async def csrf_of(browser: aiohttp.ClientSession, world: World) -> str:
    async with browser.get(world.base_url + API_PREFIX + "/me") as r:
        assert r.status == 200
        return str((await r.json())["csrf_token"])


@asynccontextmanager
async def two_users(
    world: World, new_account: NewAccount, browser_from: Browser
) -> AsyncIterator[tuple[aiohttp.ClientSession, str, list[str], str, int]]:
    """A user signed in from two browsers and another user signed in: the first browser, the
    user's name, both saved cookies, the other user's cookie, and the user's id."""
    username, other = await new_account(), await new_account()
    async with browser_from() as first, browser_from() as second, browser_from() as third:
        cookies = [await sign_in(first, world, username), await sign_in(second, world, username)]
        other_cookie = await sign_in(third, world, other)
        status, me = await me_with(world, cookies[0])
        assert status == 200
        yield first, username, cookies, other_cookie, int(me["user"]["id"])


async def assert_ended(world: World, cookies: list[str], other_cookie: str) -> None:
    for cookie in cookies:
        status, body = await me_with(world, cookie)
        assert status == 401, body
    status, _ = await me_with(world, other_cookie)
    assert status == 200


async def test_signing_out_ends_every_session_of_the_user(
    world: World, new_account: NewAccount, browser_from: Browser
) -> None:
    async with two_users(world, new_account, browser_from) as (first, _, cookies, other, _id):
        csrf = await csrf_of(first, world)
        async with first.post(world.base_url + "/logout", data={"csrf_token": csrf},
                              allow_redirects=False) as r:  # fmt: skip
            assert r.status == 303 and r.headers["Location"] == "/login"
        await assert_ended(world, cookies, other)


async def test_a_new_password_ends_every_session_of_the_user(
    world: World, new_account: NewAccount, browser_from: Browser
) -> None:
    async with two_users(world, new_account, browser_from) as (first, name, cookies, other, _id):
        url, csrf = world.base_url + API_PREFIX + "/me/password", await csrf_of(first, world)
        wrong = {"current_password": "khong-phai-mat-khau", "new_password": NEW_PASSWORD}
        async with first.post(url, json=wrong, headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 403
            assert (await r.json())["detail"] == "Mật khẩu hiện tại không đúng."
        assert (await me_with(world, cookies[1]))[0] == 200  # a refused change ends nothing
        right = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
        async with first.post(url, json=right, headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 200, await r.text()
        await assert_ended(world, cookies, other)
        async with browser_from() as again:
            await sign_in(again, world, name, NEW_PASSWORD)


async def test_a_change_of_role_ends_every_session_of_the_user(
    world: World, new_account: NewAccount, browser_from: Browser, http: aiohttp.ClientSession
) -> None:
    async with two_users(world, new_account, browser_from) as (_, _name, cookies, other, user_id):
        async with http.patch(
            f"{world.base_url}{API_PREFIX}/users/{user_id}",
            json={"role": "archivist"},
            headers=world.headers("admin"),
        ) as r:
            assert r.status == 200, await r.text()
            assert (await r.json())["role"] == "archivist"
        await assert_ended(world, cookies, other)
    async with world.db() as db:
        row = await db.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "user.update", AuditEntry.target == f"user:{user_id}"
            )
        )
        assert row is not None and row.detail["fields"] == ["role"]  # fmt: skip


async def test_disabling_a_user_ends_every_session_for_good(
    world: World, new_account: NewAccount, browser_from: Browser, http: aiohttp.ClientSession
) -> None:
    async with two_users(world, new_account, browser_from) as (_, _name, cookies, other, user_id):
        url, admin = f"{world.base_url}{API_PREFIX}/users/{user_id}", world.headers("admin")
        for active in (False, True):
            async with http.patch(url, json={"active": active}, headers=admin) as r:
                assert r.status == 200, await r.text()
        # Enabled again, the account signs in anew: the sessions of before stay ended.
        await assert_ended(world, cookies, other)


async def test_a_sign_in_never_keeps_the_session_id_it_was_given(
    world: World, new_account: NewAccount, browser_from: Browser
) -> None:
    username = await new_account()
    async with browser_from() as victim:
        await login_form(victim, world.base_url)
        planted = cookie_of(victim)  # what an attacker could have set in the victim's browser
        signed_in = await sign_in(victim, world, username)
    assert signed_in != planted
    status, body = await me_with(world, planted)
    assert status == 401, body


async def test_redis_out_of_reach_is_a_vietnamese_503(world: World) -> None:
    unreachable = world.settings.broker.model_copy(update={"url": "redis://127.0.0.1:9/0"})
    settings = world.settings.model_copy(update={"broker": unreachable})
    # Building the app reads the static directory from disk: a thread, as blockbuster wants.
    app = await asyncio.to_thread(create_app, settings, reconcile_interval_s=None)
    async with served(app) as base, aiohttp.ClientSession() as client:
        for path, headers in [("/login", {}), (API_PREFIX + "/me", {"Cookie": f"{COOKIE}=x"})]:
            async with client.get(base + path, headers=headers) as r:
                assert r.status == 503, await r.text()
                assert r.content_type == "application/problem+json"
                assert "Không kết nối được kho phiên đăng nhập" in (await r.json())["detail"]
        # A bearer token needs no session: automation goes on without Redis.
        async with client.get(base + API_PREFIX + "/me", headers=world.headers("admin")) as r:
            assert r.status == 200
