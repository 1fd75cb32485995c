"""`tiepdan demo`: one whole reception session on the embedded stack, from the calendar link to
the searchable archive. Every step is checked; the exit status says whether all of them worked."""

from __future__ import annotations

import asyncio
import json
import signal
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from livekit import api

from config import Settings
from config.local_stack import LocalStack
from media import VoiceBot
from orchestrator.db import create_engine, migrate, session_factory
from orchestrator.demo.client import DemoClient, DemoError
from orchestrator.demo.processes import DemoProcesses
from orchestrator.demo.script import (
    CENTRAL,
    CHAIR,
    CITIZEN,
    COMMUNE_POINT,
    OFFICER,
    PROVINCE_OFFICE,
    SCRIPT,
    SESSION_TITLE,
)
from orchestrator.demo.seed import CITIZEN_NAME, DEMO_PASSWORD, DEMO_USERS, DemoWorld, seed
from orchestrator.demo.voices import speak
from orchestrator.timezone import VN_TZ
from transcription.celery_app import PING_TASK, create_celery

Echo = Callable[[str], None]
READY_TIMEOUT_S = 90.0
RECORDER_TIMEOUT_S = 30.0


class Steps:
    """Numbered steps, each reported as it starts and ends, with its wall time."""

    def __init__(self, echo: Echo) -> None:
        self.echo, self.count = echo, 0

    @asynccontextmanager
    async def step(self, title: str) -> AsyncIterator[None]:
        self.count += 1
        started = time.monotonic()
        self.echo(f"[{self.count}] {title} …")
        try:
            yield
        except Exception as e:
            self.echo(f"[{self.count}] FAILED: {title}: {e}")
            raise
        self.echo(f"[{self.count}] ok ({time.monotonic() - started:.1f} s)")


async def _eventually(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise DemoError(f"{what}: not within {timeout:.0f} s")
        await asyncio.sleep(0.5)


async def _seed(settings: Settings) -> DemoWorld:
    engine = create_engine(settings.db.url)
    try:
        await migrate(engine)
        async with session_factory(engine)() as db:
            return await seed(db)
    finally:
        await engine.dispose()


async def _worker_ready(settings: Settings) -> None:
    celery = create_celery(settings)

    def ping() -> object:
        return celery.send_task(PING_TASK, args=["demo"], queue="transcribe").get(
            timeout=READY_TIMEOUT_S
        )

    await asyncio.to_thread(ping)


async def _orchestrator_ready(client: DemoClient) -> None:
    async def up() -> bool:
        try:
            await client.api(CHAIR, "GET", "/me")
        except (aiohttp.ClientError, DemoError):
            return False
        return True

    await _eventually(up, READY_TIMEOUT_S, "the orchestrator answering")


def _lkapi(settings: Settings) -> api.LiveKitAPI:
    lk = settings.livekit
    return api.LiveKitAPI(lk.http_url, lk.api_key, lk.api_secret.get_secret_value())


async def _recording(settings: Settings, room: str) -> bool:
    async with _lkapi(settings) as lk:
        rooms = (await lk.room.list_rooms(api.ListRoomsRequest(names=[room]))).rooms
    return bool(rooms and json.loads(rooms[0].metadata or "{}").get("recording"))


async def _schedule(client: DemoClient, world: DemoWorld) -> dict[str, Any]:
    now = datetime.now(UTC).astimezone(VN_TZ).replace(microsecond=0)
    body = {
        "title": SESSION_TITLE, "kind": "periodic", "agency_id": world.province_agency,
        "chair_id": world.users[CHAIR], "starts_at": now.isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat(),
        "rrule": "FREQ=MONTHLY;COUNT=3",
        "connection_points": [
            {"name": PROVINCE_OFFICE, "tier": "province", "agency_id": world.province_agency},
            {"name": COMMUNE_POINT, "tier": "commune", "agency_id": world.commune_agency},
        ],
    }  # fmt: skip
    first, *_later = await client.api(OFFICER, "POST", "/sessions", json=body)
    return dict(first)


async def run_demo(
    settings: Settings, config_file: Path | None, *, stay_up: bool, echo: Echo
) -> None:
    """Run the demo; raise on the first step that fails (after reporting it).

    Args:
        settings: the settings built by the CLI.
        config_file: the settings file, passed on to the subprocesses.
        stay_up: keep everything running for exploring until Ctrl-C.
        echo: where progress lines go.
    """
    started = time.monotonic()
    steps = Steps(echo)
    procs = DemoProcesses(settings.paths.state_dir / "demo", config_file)
    try:
        async with steps.step("local stack (LiveKit, S3, Redis)"):
            await asyncio.to_thread(LocalStack(settings, report=lambda _l: None).up)
        async with steps.step("database migrated; Ninh Bình office, commune point, users seeded"):
            world = await _seed(settings)
        async with aiohttp.ClientSession() as http:
            client = DemoClient(http, settings.web.public_url, world.tokens)
            async with steps.step("orchestrator, media agent and worker started"):
                procs.start("orchestrator", "serve")
                procs.start("media-agent", "media")
                procs.start("worker", "worker")
                await _orchestrator_ready(client)
                await _worker_ready(settings)
            await _session(settings, client, world, steps, echo)
        echo(f"demo finished in {time.monotonic() - started:.0f} s")
        echo(f"web UI: {settings.web.public_url}/login  (password {DEMO_PASSWORD}) as")
        for user in DEMO_USERS:
            echo(f"  {user.username:20} {user.display_name}")
        if stay_up:
            echo("everything stays up for exploring; Ctrl-C ends it")
            await _until_interrupted()
    except BaseException:
        echo(f"logs of the demo's processes: {procs.log_dir}")
        raise
    finally:
        procs.stop()


async def _session(
    settings: Settings, client: DemoClient, world: DemoWorld, steps: Steps, echo: Echo
) -> None:
    async with steps.step("periodic session scheduled from now; the citizen invited"):
        session = await _schedule(client, world)
        session_id = int(session["id"])
        commune_point = next(p["id"] for p in session["connection_points"]
                             if p["name"] == COMMUNE_POINT)  # fmt: skip
        invitation = await client.api(OFFICER, "POST", f"/sessions/{session_id}/invitations", json={
            "kind": "citizen", "display_name": CITIZEN_NAME, "connection_point_id": commune_point,
        })  # fmt: skip
    async with steps.step("the chair opens the launch link from the calendar feed"):
        link = await client.launch_link(CHAIR, session_id)
        status, _, location = await client.page(CHAIR, link)
        if status != 303:
            raise DemoError(f"launch link answered HTTP {status}")
        tokens = {
            CHAIR: await client.join_token(CHAIR, settings.web.public_url + location),
            OFFICER: await client.join_token(
                OFFICER, f"{settings.web.public_url}/sessions/{session_id}/join"
            ),
            CITIZEN: await client.join_token(None, invitation["join_url"]),
        }
        echo(f"    {link}")
    room = f"{session['province_code']}-{session_id}"
    with tempfile.TemporaryDirectory(prefix="tiepdan-demo-") as tmp:
        async with steps.step("voices synthesised (espeak-ng, Vietnamese)"):
            pcm = [
                await asyncio.to_thread(speak, line, Path(tmp) / f"line-{i}.wav")
                for i, line in enumerate(SCRIPT)
            ]
        bots: dict[str, VoiceBot] = {}
        try:
            async with steps.step("chair, officer and citizen join; the recorder comes in"):
                for who, token in tokens.items():
                    bots[who] = await VoiceBot.join(settings.livekit.url, token)
                await _eventually(lambda: _recording(settings, room), RECORDER_TIMEOUT_S,
                                  "the room showing recording: true")  # fmt: skip
            async with steps.step(f"{len(SCRIPT)} lines spoken"):
                for line, audio in zip(SCRIPT, pcm, strict=True):
                    if line.speaker == CENTRAL:
                        continue  # the central hall speaks through the bridge (issue 8)
                    echo(f"    {line.speaker}: {line.text}")
                    await bots[line.speaker].play(audio)
        finally:
            for bot in bots.values():
                await bot.aclose()
    async with steps.step("the chair ends the session; the recording is finalized"):
        await client.api(CHAIR, "POST", f"/sessions/{session_id}/end")

        async def pipeline_started() -> bool:
            s = await client.api(CHAIR, "GET", f"/sessions/{session_id}")
            return s["status"] in ("processing", "archived")

        await _eventually(pipeline_started, RECORDER_TIMEOUT_S, "the recording marked complete")


async def _until_interrupted() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
