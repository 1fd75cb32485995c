"""One session followed through `tiepdan serve`, `tiepdan media` and `tiepdan worker`, run as
deployed with ``logging.format = json``: each process's lines about the session carry its id,
and the request id of the agent's "recording complete" call is on the orchestrator's lines and
on the worker's job that call enqueued. The agent and the worker serve their metrics."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import World
from tests.integration.test_launch import call, eventually, launch, new_session_now
from tests.integration.test_media_agent import recorder_present
from tests.loopback import free_port

TIEPDAN = str(Path(sys.executable).parent / "tiepdan")
BROKER_DB = 8  # jobs of this test only


@dataclasses.dataclass
class Deployment:
    """The three processes, each logging JSON lines to ``logs/<name>.log``."""

    world: World
    logs: Path
    web_port: int = dataclasses.field(default_factory=free_port)
    media_port: int = dataclasses.field(default_factory=free_port)
    worker_port: int = dataclasses.field(default_factory=free_port)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def env(self) -> dict[str, str]:
        s = self.world.settings
        return {
            **os.environ,
            "TIEPDAN_PATHS__STATE_DIR": str(s.paths.state_dir),
            "TIEPDAN_DB__URL": s.db.url,
            "TIEPDAN_BROKER__URL": s.broker.url.rsplit("/", 1)[0] + f"/{BROKER_DB}",
            "TIEPDAN_WEB__PORT": str(self.web_port),
            "TIEPDAN_WEB__PUBLIC_URL": self.base_url,
            "TIEPDAN_LOGGING__FORMAT": "json",
            "TIEPDAN_METRICS__MEDIA_PORT": str(self.media_port),
            "TIEPDAN_METRICS__WORKER_PORT": str(self.worker_port),
        }

    def start(self, stack: ExitStack, name: str, *args: str) -> None:
        log = stack.enter_context((self.logs / f"{name}.log").open("wb"))
        proc = subprocess.Popen([TIEPDAN, *args], env=self.env(), stdout=log,
                                stderr=subprocess.STDOUT)  # fmt: skip

        def stop() -> None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

        stack.callback(stop)

    def lines(self, name: str) -> list[dict[str, Any]]:
        """The JSON lines of process ``name`` (a line that is not JSON fails the test)."""
        text = (self.logs / f"{name}.log").read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def deployment(world: World, tmp_path: Path) -> Iterator[Deployment]:
    d = Deployment(world, tmp_path)
    with ExitStack() as stack:
        d.start(stack, "orchestrator", "serve")
        d.start(stack, "media", "media", "--agent-id", "json-logs", "--spool-dir",
                str(tmp_path / "spool"))  # fmt: skip
        d.start(stack, "worker", "worker", "--queues=transcribe,media,archive",
                "--hostname=json-logs@%h")  # fmt: skip
        yield d


async def scrape(http: aiohttp.ClientSession, port: int) -> set[str]:
    async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
        return {f.name for f in text_string_to_metric_families(await r.text())}


@pytest.mark.postgresql_only
async def test_one_session_followed_through_three_processes(
    world: World, http: aiohttp.ClientSession, deployment: Deployment
) -> None:
    broker = aioredis.from_url(deployment.env()["TIEPDAN_BROKER__URL"])
    await broker.flushdb()
    await broker.aclose()
    served = dataclasses.replace(world, base_url=deployment.base_url)

    async def answering() -> bool:
        try:
            async with http.get(deployment.base_url + "/metrics") as r:
                return r.status == 200
        except aiohttp.ClientConnectionError:
            return False

    assert await eventually(answering, timeout=60), "tiepdan serve did not start"
    session_id = await new_session_now(served, http)
    await launch(served, http, "chair", session_id)
    room = f"{world.province_code}-{session_id}"
    assert await eventually(lambda: recorder_present(world, room), timeout=30)
    assert "tiepdan_recorders" in await scrape(http, deployment.media_port)
    status, _, _ = await call(http, served, "chair", "POST", f"/sessions/{session_id}/end")
    assert status == 200

    def about_session(name: str) -> list[dict[str, Any]]:
        return [line for line in deployment.lines(name) if line["session_id"] == session_id]

    async def job_ran() -> bool:
        return any(line.get("name", "").startswith("orchestrator.pipeline")
                   for line in about_session("worker"))  # fmt: skip

    assert await eventually(job_ran, timeout=60), "no worker line about the session"
    for name in ("orchestrator", "media", "worker"):
        lines = about_session(name)
        assert lines, f"no {name} line names session {session_id}"
        assert {line["process"] for line in lines} == {name}
    media_rooms = {line["room"] for line in about_session("media")}
    assert media_rooms == {room}
    # The agent's report of the complete recording, followed by its request id.
    (complete,) = [line for line in about_session("media")
                   if "recording complete" in line["message"]]  # fmt: skip
    request_id = complete["request_id"]
    assert any(line["request_id"] == request_id for line in about_session("orchestrator"))
    assert any(line["request_id"] == request_id for line in about_session("worker"))
    assert "tiepdan_pipeline_step_seconds" in await scrape(http, deployment.worker_port)
