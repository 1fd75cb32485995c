"""``/healthz`` and ``/readyz`` against the real local stack, parts of which are made to fail.

A part *stopped* (SIGSTOP: the port still accepts, nothing answers) tests the timeout; a part
*killed* (connection refused) tests the quick failure. Each is brought back, and ``/readyz``
must turn 200 again by itself.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

import aiohttp
import psutil
import pytest

from config import Settings
from config.local_stack.processes import ManagedProcess
from orchestrator.web.health import PROBE_TIMEOUT_S
from tests.form_login import login_form
from tests.integration.conftest import PASSWORD, World
from tests.integration.test_launch import eventually


def _stack_process(settings: Settings, part: str) -> int:
    paths = settings.paths
    proc = ManagedProcess(part, paths.run_dir / f"{part}.pid", paths.logs_dir / f"{part}.log")
    running = proc.running()
    if running is None:
        pytest.skip(f"the local stack's {part} runs, but was not started by tiepdan")
    return running.pid


async def _stopped(pid: int) -> None:
    """Wait until the kernel has stopped every thread of ``pid`` (a loaded machine may take a
    moment to deliver SIGSTOP to a busy one)."""

    async def stopped() -> bool:
        threads = [t.id for t in psutil.Process(pid).threads()]
        return all(psutil.Process(t).status() == psutil.STATUS_STOPPED for t in threads)

    assert await eventually(stopped, timeout=10.0), f"process {pid} did not stop"


async def _readyz(http: aiohttp.ClientSession, world: World) -> tuple[int, str, Any]:
    async with http.get(world.base_url + "/readyz") as r:
        return r.status, r.content_type, await r.json(content_type=None)


async def _ready_again(http: aiohttp.ClientSession, world: World) -> None:
    async def ready() -> bool:
        return (await _readyz(http, world))[0] == 200

    assert await eventually(ready, timeout=30.0), await _readyz(http, world)


async def test_healthz_answers_without_sign_in(world: World, http: aiohttp.ClientSession) -> None:
    async with http.get(world.base_url + "/healthz") as r:
        assert r.status == 200 and (await r.json())["status"] == "alive"
    status, _, body = await _readyz(http, world)
    assert status == 200, body
    assert body["checked"] == ["database", "redis", "s3", "livekit"]


@pytest.mark.parametrize("part", ["redis", "s3", "livekit"])
async def test_readyz_names_a_part_that_stopped_answering(
    world: World, http: aiohttp.ClientSession, local_stack: Settings, part: str
) -> None:
    await _ready_again(http, world)
    pgid = _stack_process(local_stack, part)
    os.killpg(pgid, signal.SIGSTOP)
    try:
        await _stopped(pgid)
        started = asyncio.get_running_loop().time()
        status, content_type, problem = await _readyz(http, world)
        took = asyncio.get_running_loop().time() - started
    finally:
        os.killpg(pgid, signal.SIGCONT)
    assert status == 503 and content_type == "application/problem+json", problem
    detail = problem["detail"]
    assert detail.startswith("Chưa sẵn sàng") and f"{part} (không trả lời" in detail, detail
    others = {"database", "redis", "s3", "livekit"} - {part}
    assert not [o for o in others if f"{o} (" in detail], detail
    assert took < PROBE_TIMEOUT_S + 2.0  # the parts are asked at once, each within the limit
    await _ready_again(http, world)


async def test_readyz_names_a_killed_redis_until_it_is_back(
    world: World, http: aiohttp.ClientSession, local_stack: Settings
) -> None:
    await _ready_again(http, world)
    _stack_process(local_stack, "redis")
    paths = local_stack.paths
    redis = ManagedProcess("redis", paths.run_dir / "redis.pid", paths.logs_dir / "redis.log")
    await _sign_in(world)  # the throttle now holds a pooled connection that the restart breaks
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            fields = await login_form(browser, world.base_url)
            await asyncio.to_thread(redis.stop)
            status, _, problem = await _readyz(http, world)
            assert status == 503 and "redis (" in problem["detail"], problem
            assert "ConnectionError" in problem["detail"]
            # Sign-in can neither keep a session nor count attempts: it refuses, in Vietnamese,
            # naming Redis, rather than fail (the session store is asked first).
            form = fields | {"username": world.usernames["chair"], "password": PASSWORD}
            async with browser.post(world.base_url + "/login", data=form) as r:
                assert r.status == 503, await r.text()
                assert "(Redis)" in (await r.json())["detail"]
    finally:
        # `stack up` restarts it, from a process of its own (which owns the new redis-server).
        up = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "from orchestrator.cli import main; main()", "stack", "up",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        assert await asyncio.wait_for(up.wait(), 60) == 0
    await _ready_again(http, world)
    # The first sign-in after the restart goes through: the throttle's pooled connections,
    # which the restart broke, are replaced on the spot rather than failing it with a 503.
    await _sign_in(world)


async def _sign_in(world: World) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        fields = await login_form(browser, world.base_url)
        form = fields | {"username": world.usernames["chair"], "password": PASSWORD}
        async with browser.post(world.base_url + "/login", data=form, allow_redirects=False) as r:
            assert r.status in (302, 303), await r.text()
