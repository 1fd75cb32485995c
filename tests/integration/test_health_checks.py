"""``tiepdan check ...``, the compose healthchecks, against real processes of each kind."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import uuid
from pathlib import Path

import pytest

from config import Settings
from tests.integration.conftest import World
from tests.integration.test_celery import worker_queue  # noqa: F401 - a fixture
from tests.integration.test_launch import eventually
from tests.integration.test_media_agent import Agents, agents  # noqa: F401 - a fixture

TIEPDAN = str(Path(sys.executable).parent / "tiepdan")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def check(settings: Settings, *args: str, **env: str) -> tuple[int, str]:
    """Run ``tiepdan check ARGS`` as a compose healthcheck would; its status and output."""
    proc = await asyncio.create_subprocess_exec(
        TIEPDAN, "check", *args,
        env={**os.environ, "TIEPDAN_PATHS__STATE_DIR": str(settings.paths.state_dir), **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_check_web_follows_readyz(world: World) -> None:
    rc, out = await check(world.settings, "web", TIEPDAN_WEB__PORT=str(world.settings.web.port))
    assert rc == 0, out
    rc, out = await check(world.settings, "web", TIEPDAN_WEB__PORT=str(_closed_port()))
    assert rc == 1 and "refused" in out, out


async def test_check_broker(local_stack: Settings) -> None:
    assert (await check(local_stack, "broker"))[0] == 0
    rc, out = await check(
        local_stack, "broker", TIEPDAN_BROKER__URL=f"redis://127.0.0.1:{_closed_port()}/0"
    )
    assert rc == 1 and "broker redis://" in out, out


async def test_check_worker_until_it_stops(local_stack: Settings, worker_queue: str) -> None:  # noqa: F811
    node = f"{worker_queue}@{socket.gethostname()}"

    async def healthy() -> bool:
        return (await check(local_stack, "worker", "--hostname", node, "--timeout", "2"))[0] == 0

    assert await eventually(healthy, timeout=60.0)
    rc, out = await check(local_stack, "worker", "--hostname", f"nobody-{node}", "--timeout", "1")
    assert rc == 1 and "did not answer" in out, out


async def test_check_media_follows_the_agents_heartbeat(
    world: World,
    agents: Agents,  # noqa: F811
) -> None:
    agent_id = f"health-{uuid.uuid4().hex[:8]}"
    args = ("media", "--agent-id", agent_id)
    rc, out = await check(world.settings, *args)
    assert rc == 1 and "no heartbeat" in out, out
    agents.start(agent_id)

    async def healthy() -> bool:
        return (await check(world.settings, *args))[0] == 0

    assert await eventually(healthy, timeout=60.0)


@pytest.mark.parametrize("stale_s", [31.0, 3600.0])
async def test_check_media_refuses_a_stale_heartbeat(
    local_stack: Settings, tmp_path: Path, stale_s: float
) -> None:
    from media.liveness import beat_file, touch_beat

    settings = local_stack.model_copy(
        update={"paths": local_stack.paths.model_copy(update={"state_dir": tmp_path})}
    )
    beat = beat_file(settings, "stale-agent")
    await asyncio.to_thread(touch_beat, beat)
    then = beat.stat().st_mtime - stale_s
    os.utime(beat, (then, then))
    rc, out = await check(settings, "media", "--agent-id", "stale-agent")
    assert rc == 1 and "last heartbeat" in out, out
