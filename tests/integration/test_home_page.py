"""The start page ``/``: each user's sessions with the actions their role allows, their tools and
calendar feed; and the login form it leads to when signed out."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
from sqlalchemy import update

from orchestrator.core.vocabulary import SessionStatus
from orchestrator.db.models import ReceptionSession
from tests.integration.conftest import PASSWORD, World
from tests.integration.test_launch import launch
from tests.integration.test_orchestrator_api import call, session_body


async def home(world: World, http: aiohttp.ClientSession, who: str) -> str:
    async with http.get(world.base_url + "/", headers=world.headers(who)) as r:
        assert r.status == 200 and r.content_type == "text/html"
        return await r.text()


async def new_session(
    world: World, http: aiohttp.ClientSession, start: datetime, **changes: object
) -> tuple[int, str]:
    title = f"Phiên thử trang chủ {uuid.uuid4().hex[:8]}"
    body = session_body(world, title=title, starts_at=start.isoformat(),
                        ends_at=(start + timedelta(hours=2)).isoformat(), **changes)  # fmt: skip
    status, created, _ = await call(http, world, "chair", "POST", "/sessions", json=body)
    assert status == 201, created
    return int(created[0]["id"]), title


def section(page: str, name: str) -> str:
    found = re.search(rf'<section id="{name}">(.*?)</section>', page, re.S)
    assert found, f"no {name} section"
    return found.group(1)


async def test_signed_out_it_leads_to_the_login_form_and_back(world: World) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.get(world.base_url + "/", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/login?next=/"
        async with browser.get(world.base_url + "/login?next=/") as r:
            page = await r.text()
        assert "<h1>Đăng nhập</h1>" in page
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf
        # A wrong password: 401, a Vietnamese message, the name kept, the password not echoed.
        form = {"username": world.usernames["officer"], "password": "nham-mat-khau", "next": "/",
                "csrf_token": csrf.group(1)}  # fmt: skip
        async with browser.post(world.base_url + "/login", data=form) as r:
            assert r.status == 401
            page = await r.text()
        assert "Sai tên đăng nhập hoặc mật khẩu." in page
        assert f'value="{world.usernames["officer"]}"' in page and "nham-mat-khau" not in page
        # A next that leaves the site is not followed.
        form |= {"password": PASSWORD, "next": "//example.org/"}
        async with browser.post(world.base_url + "/login", data=form, allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/"
        async with browser.get(world.base_url + "/") as r:
            assert r.status == 200 and "Đăng xuất" in await r.text()


async def test_each_user_sees_their_sessions_with_what_they_may_do(
    world: World, http: aiohttp.ClientSession
) -> None:
    now = datetime.now(UTC)
    live_id, live = await new_session(world, http, now + timedelta(minutes=5))
    coming_id, coming = await new_session(world, http, now + timedelta(days=3))
    secret_id, secret = await new_session(world, http, now + timedelta(days=4), restricted=True)
    done_id, done = await new_session(world, http, now - timedelta(days=2))
    async with world.db() as db:
        await db.execute(update(ReceptionSession).where(ReceptionSession.id == done_id)
                         .values(status=SessionStatus.ARCHIVED))  # fmt: skip
        await db.commit()
    await launch(world, http, "chair", live_id)
    try:
        page = await home(world, http, "officer")
        assert live in section(page, "live")
        assert f'href="/sessions/{live_id}/join"' in section(page, "live")
        assert coming in section(page, "upcoming") and "/launch/" in section(page, "upcoming")
        assert done in section(page, "recent") and "Đã lưu trữ".lower() in page.lower()
        # An officer neither plays recordings nor sees a denunciation session uncleared.
        assert f"/archive/sessions/{done_id}" not in page and secret not in page
        assert 'href="/archive/search"' not in page and 'href="/central"' not in page
        assert "/calendar/" in section(page, "calendar")

        chair = await home(world, http, "chair")  # cleared
        assert secret in section(chair, "upcoming")

        archivist = await home(world, http, "archivist")
        assert f'href="/archive/sessions/{done_id}"' in section(archivist, "recent")
        assert 'href="/archive/search"' in archivist
        assert "/launch/" not in archivist and f"/sessions/{live_id}/join" not in archivist

        observer = await home(world, http, "observer")
        assert 'href="/central"' in observer

        elsewhere = await home(world, http, "other_officer")
        assert not any(t in elsewhere for t in (live, coming, secret, done))
    finally:
        status, _, _ = await call(http, world, "chair", "POST", f"/sessions/{live_id}/end")
        assert status == 200
        for sid in (coming_id, secret_id):
            await call(http, world, "chair", "POST", f"/sessions/{sid}/cancel",
                       json={"reason": "phiên thử"})  # fmt: skip
