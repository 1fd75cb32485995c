"""Sign-in cost: what a login costs beyond argon2 itself, and how much bad logins slow others.

Runs the real orchestrator against the local stack (`tiepdan stack up` first), with a database of
its own and Redis database 2 (emptied first) for the sign-in throttle, and measures in one run:

- argon2: p95 of one password check, called directly (the floor of any login);
- login: p95 of ``POST /login`` with the right password (form CSRF, throttle, lookup, argon2,
  audit, cookie), each from a loopback address of its own so no throttle tier fills up;
- ``GET /login`` alone, and while six bad logins (six accounts) are in flight.

Prints p50 / p95 of each and the ratios: login p95 / argon2 p95 (the overhead of everything but
the hash), and ``GET /login`` p95 under bad logins over it alone and over argon2 p95 (how many
password checks' worth of time a page waits: above 1, the hashing runs on the event loop). It
uses nothing newer than the login form, so it measures the code before the throttle too. Usage:

    .venv/bin/python benchmarks/bench_login.py [N]   # default 40 logins, 10 bursts
"""

from __future__ import annotations

import asyncio
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import redis.asyncio as aioredis
from aiohttp import web
from argon2 import PasswordHasher

from config import load_settings
from orchestrator.accounts.schemas import UserCreate
from orchestrator.accounts.service import new_user
from orchestrator.app import create_app
from orchestrator.core.vocabulary import Role, Tier
from orchestrator.db import create_engine, migrate, session_factory
from orchestrator.db.models import Agency

PORT = 18472
PASSWORD = "mat-khau-do-toc-do"
BAD_AT_ONCE = 6
_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')


def browser(address: str) -> aiohttp.ClientSession:
    """A cookie-keeping client connecting from ``address`` (any 127.0.0.0/8 is loopback)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(local_addr=(address, 0)),
        cookie_jar=aiohttp.CookieJar(unsafe=True),
    )


async def post_login(http: aiohttp.ClientSession, base: str, name: str, password: str) -> float:
    """Fetch the form, post it; the milliseconds the post took."""
    async with http.get(base + "/login") as r:
        form = dict(_HIDDEN.findall(await r.text()))
    t0 = time.perf_counter()
    async with http.post(base + "/login", allow_redirects=False,
                         data=form | {"username": name, "password": password}) as r:  # fmt: skip
        await r.read()
        assert r.status == (303 if password == PASSWORD else 401), r.status
    return (time.perf_counter() - t0) * 1000


async def timed(call: Callable[[], Awaitable[object]]) -> float:
    t0 = time.perf_counter()
    await call()
    return (time.perf_counter() - t0) * 1000


async def get_form(http: aiohttp.ClientSession, base: str, delay_s: float = 0.0) -> float:
    """The milliseconds ``GET /login`` took, started after ``delay_s``."""
    await asyncio.sleep(delay_s)
    t0 = time.perf_counter()
    async with http.get(base + "/login") as r:
        await r.read()
        assert r.status == 200, r.status
    return (time.perf_counter() - t0) * 1000


def p50_p95(timings: list[float]) -> tuple[float, float]:
    ordered = sorted(timings)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


async def main(count: int) -> None:
    base_settings = load_settings()
    db_url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    broker_url = base_settings.broker.url.rsplit("/", 1)[0] + "/2"
    settings = base_settings.model_copy(
        update={
            "db": base_settings.db.model_copy(update={"url": db_url}),
            "broker": base_settings.broker.model_copy(update={"url": broker_url}),
            "web": base_settings.web.model_copy(
                update={"port": PORT, "public_url": f"http://127.0.0.1:{PORT}"}
            ),
        }
    )
    broker = aioredis.from_url(broker_url)
    await broker.flushdb()
    await broker.aclose()
    engine = create_engine(db_url)
    await migrate(engine)
    names = [f"bench.{i}" for i in range(count)]
    async with session_factory(engine)() as s:
        agency = Agency(name="Ban Tiếp công dân (benchmark)", tier=Tier.PROVINCE,
                        province_code="ninh-binh")  # fmt: skip
        s.add(agency)
        await s.flush()
        users = [
            new_user(
                UserCreate(
                    username=name,
                    display_name="Cán bộ",
                    password=PASSWORD,
                    role=Role.OFFICER,
                    agency_id=agency.id,
                )
            )  # fmt: skip
            for name in names
        ]
        s.add_all(users)
        await s.commit()
    hasher, stored = PasswordHasher(), users[0].password_hash
    argon2 = [await timed(lambda: asyncio.to_thread(hasher.verify, stored, PASSWORD))
              for _ in range(count)]  # fmt: skip

    runner = web.AppRunner(create_app(settings, reconcile_interval_s=None))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", PORT).start()
    base = settings.web.public_url
    logins: list[float] = []
    busy: list[float] = []
    try:
        for i, name in enumerate(names):
            async with browser(f"127.10.{i // 250}.{i % 250 + 1}") as http:
                logins.append(await post_login(http, base, name, PASSWORD))
        async with browser("127.11.0.1") as http:
            alone = [await get_form(http, base) for _ in range(count)]
        for burst in range(count // 4):
            bad = names[(burst * BAD_AT_ONCE) % count :][:BAD_AT_ONCE]
            async with browser(f"127.12.{burst // 250}.{burst % 250 + 1}") as http:
                guesses = [post_login(http, base, name, "sai-mat-khau") for name in bad]
                # Asked once the guesses have fetched their forms and posted them.
                *_, probe = await asyncio.gather(*guesses, get_form(http, base, delay_s=0.03))
                busy.append(probe)
    finally:
        await runner.cleanup()
        await engine.dispose()

    (a50, a95), (l50, l95) = p50_p95(argon2), p50_p95(logins)
    (g50, g95), (b50, b95) = p50_p95(alone), p50_p95(busy)
    print(f"argon2 check          p50 {a50:6.1f} ms   p95 {a95:6.1f} ms   ({count})")
    print(f"POST /login (right)   p50 {l50:6.1f} ms   p95 {l95:6.1f} ms   ({count})")
    print(f"GET /login alone      p50 {g50:6.1f} ms   p95 {g95:6.1f} ms   ({count})")
    print(f"GET /login, {BAD_AT_ONCE} bad    p50 {b50:6.1f} ms   p95 {b95:6.1f} ms   ({len(busy)})")
    print(f"login p95 / argon2 p95 = {l95 / a95:.2f}")
    print(f"GET /login p95 under bad logins / alone = {b95 / g95:.2f}"
          f"   / argon2 p95 = {b95 / a95:.2f}")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 40))
