"""`tiepdan demo`: one whole reception session on the embedded stack, from the calendar link to
the searchable archive. Every step is checked; the exit status says whether all of them worked."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from html import unescape
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp
import numpy as np
from livekit import api
from tqdm import tqdm

from config import Settings
from config.local_stack import LocalStack
from media import ParticipantKind, mint_token, video_grants
from media.voice_bot import VoiceBot
from orchestrator.cli.demo.children import DemoProcesses
from orchestrator.cli.demo.client import DemoClient, DemoError
from orchestrator.cli.demo.script import (
    CENTRAL,
    CENTRAL_HALL,
    CHAIR,
    CITIZEN,
    COMMUNE_POINT,
    OFFICER,
    PROVINCE_OFFICE,
    SCRIPT,
    SEARCH_QUERY,
    SESSION_TITLE,
    Line,
)
from orchestrator.cli.demo.seed import (
    ARCHIVIST,
    CITIZEN_NAME,
    DEMO_PASSWORD,
    DEMO_USERS,
    DemoWorld,
    seed,
)
from orchestrator.cli.demo.voices import speak_script
from orchestrator.core.timezone import VN_TZ
from orchestrator.db import open_db
from storage import make_s3_client
from storage.archive import latest_manifest, report_lines, signing_key, verify_archive
from storage.records import session_prefix
from transcription.celery_app import TaskName, create_celery, send

Echo = Callable[[str], None]
READY_TIMEOUT_S = 90.0
RECORDER_TIMEOUT_S = 30.0
PIPELINE_TIMEOUT_S = 240.0
# Room for the bridge to switch its relay on (and to send the last words) around the question.
TALK_BACK_SETTLE_S = 1.0
CENTRAL_HALL_ROOM = "tw-hoi-truong"
PARTS = (("orchestrator", "serve"), ("media-agent", "media"), ("worker", "worker"))
"""The demo's long-running parts: (log name, tiepdan command)."""


class Voice(Protocol):
    """Someone in the room who speaks the script's lines."""

    async def play(self, audio: np.ndarray) -> None:
        """Say ``audio`` (48 kHz mono int16); return when it has been said."""

    async def aclose(self) -> None:
        """Leave the room."""


JoinChair = Callable[[str], Awaitable[Voice]]
"""Given the chair's launch link: the chair, in the room."""


@dataclass(frozen=True)
class Spoken:
    """A line of the script, and when (UTC) it was said."""

    line: Line
    began: datetime
    ended: datetime


@dataclass(frozen=True)
class DemoRun:
    """What the demo did: its session and room, the lines as said, the search's hits."""

    session_id: int
    room: str
    spoken: tuple[Spoken, ...]
    search_hits: list[dict[str, Any]]


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
    async with open_db(settings.db.url) as sessions, sessions() as db:
        return await seed(db)


async def _worker_ready(settings: Settings) -> None:
    celery = create_celery(settings)

    def ping() -> object:
        return send(celery, TaskName.PING, "demo").get(timeout=READY_TIMEOUT_S)

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
    settings: Settings,
    config_file: Path | None,
    *,
    echo: Echo,
    join_chair: JoinChair | None = None,
    then: Callable[[DemoRun], Awaitable[None]] | None = None,
) -> DemoRun:
    """Run the demo; raise on the first step that fails (after reporting it).

    Args:
        settings: the settings built by the CLI.
        config_file: the settings file, passed on to the subprocesses.
        echo: where progress lines go.
        join_chair: how the chair, given the launch link, gets into the room (default: an rtc
            bot through the launch link's redirect; the end-to-end test uses a browser).
        then: what to do, with everything still running, before it all stops (the CLI waits
            for Ctrl-C; the end-to-end test checks the results in a browser).
    """
    started = time.monotonic()
    steps = Steps(echo)
    procs = DemoProcesses(settings.paths.state_dir / "demo", config_file)
    try:
        async with steps.step("local stack (LiveKit, S3, Redis)"):
            await asyncio.to_thread(_stack_up, settings)
        async with steps.step("database migrated; Ninh Bình office, commune point, users seeded"):
            world = await _seed(settings)
        async with aiohttp.ClientSession() as http:
            client = DemoClient(http, settings.web.public_url, world.tokens)
            async with steps.step("orchestrator, media agent and worker started"):
                for name, command in PARTS:
                    # Spawning opens a log file and forks: off the event loop.
                    await asyncio.to_thread(procs.start, name, command)
                await _orchestrator_ready(client)
                await _worker_ready(settings)
            run = await _session(settings, client, world, steps, echo,
                                 join_chair or partial(_bot_chair, settings, client))  # fmt: skip
        echo(f"demo finished in {time.monotonic() - started:.0f} s")
        echo(f"web UI: {settings.web.public_url}/login  (password {DEMO_PASSWORD}) as")
        for user in DEMO_USERS:
            echo(f"  {user.username:20} {user.display_name}")
        if then is not None:
            await then(run)
        return run
    except BaseException:
        echo(f"logs of the demo's processes: {procs.log_dir}")
        raise
    finally:
        await asyncio.to_thread(procs.stop)


def _stack_up(settings: Settings) -> None:
    # Building the stack reads its pid files: all of it off the event loop.
    LocalStack(settings, report=lambda _line: None).up()


async def _session(
    settings: Settings,
    client: DemoClient,
    world: DemoWorld,
    steps: Steps,
    echo: Echo,
    join_chair: JoinChair,
) -> DemoRun:
    async with steps.step("periodic session scheduled from now; the citizen invited"):
        session = await _schedule(client, world)
        session_id = int(session["id"])
        commune_point = next(p["id"] for p in session["connection_points"]
                             if p["name"] == COMMUNE_POINT)  # fmt: skip
        invitation = await client.api(OFFICER, "POST", f"/sessions/{session_id}/invitations", json={
            "kind": "citizen", "display_name": CITIZEN_NAME, "connection_point_id": commune_point,
        })  # fmt: skip
    room = f"{session['province_code']}-{session_id}"
    async with steps.step("voices synthesised (espeak-ng, Vietnamese)"):
        pcm = await asyncio.to_thread(speak_script, SCRIPT)
    bots: dict[str, Voice] = {}
    spoken: list[Spoken] = []
    try:
        async with steps.step("the chair opens the launch link from the calendar feed"):
            link = await client.launch_link(CHAIR, session_id)
            echo(f"    {link}")
            bots[CHAIR] = await join_chair(link)
        async with steps.step("officer and citizen join; the recorder comes in"):
            tokens = {
                OFFICER: await client.join_token(
                    OFFICER, f"{settings.web.public_url}/sessions/{session_id}/join"
                ),
                CITIZEN: await client.join_token(None, invitation["join_url"]),
            }
            for who, token in tokens.items():
                bots[who] = await VoiceBot.join(settings.livekit.url, token)
            await _eventually(lambda: _recording(settings, room), RECORDER_TIMEOUT_S,
                              "the room showing recording: true")  # fmt: skip
        async with steps.step("the central hall is bridged into the session"):
            bots[CENTRAL] = await _central_hall(settings)
            bridge = await client.api(CENTRAL, "POST", "/bridges", json={
                "central_room": CENTRAL_HALL_ROOM, "session_id": session_id,
            })  # fmt: skip
            await _eventually(lambda: _bridge_running(client, bridge["id"]),
                              RECORDER_TIMEOUT_S, "the bridge running")  # fmt: skip
        async with steps.step(f"{len(SCRIPT)} lines spoken"):
            for line, audio in zip(SCRIPT, pcm, strict=True):
                echo(f"    {line.speaker}: {line.text}")
                began = datetime.now(UTC)
                if line.speaker == CENTRAL:
                    await _talk_back(client, bridge["id"], bots[CENTRAL], audio)
                else:
                    await bots[line.speaker].play(audio)
                spoken.append(Spoken(line, began, datetime.now(UTC)))
    finally:
        for bot in bots.values():
            await bot.aclose()
    async with steps.step("the chair ends the session; the recording is finalized"):
        await client.api(CHAIR, "POST", f"/sessions/{session_id}/end")

        async def pipeline_started() -> bool:
            s = await client.api(CHAIR, "GET", f"/sessions/{session_id}")
            return s["status"] in ("processing", "archived")

        await _eventually(pipeline_started, RECORDER_TIMEOUT_S, "the recording marked complete")
    async with steps.step("post-session pipeline: transcripts, mixed audio, minutes, archive"):
        await _follow_pipeline(client, session_id)
    async with steps.step("the archive verified"):
        await _show_archive(settings, session, echo)
    async with steps.step(f'archive search for "{SEARCH_QUERY}" (no diacritics)'):
        hits = await _show_search(settings, client, session_id, echo)
    return DemoRun(session_id, room, tuple(spoken), hits)


async def _bot_chair(settings: Settings, client: DemoClient, link: str) -> Voice:
    """The chair as an rtc bot: the launch link redirects to the join page, which holds the
    chair's token."""
    status, _, location = await client.page(CHAIR, link)
    if status != 303:
        raise DemoError(f"launch link answered HTTP {status}")
    token = await client.join_token(CHAIR, settings.web.public_url + location)
    return await VoiceBot.join(settings.livekit.url, token)


async def _central_hall(settings: Settings) -> VoiceBot:
    """The central hall's own room (its connection point), with the hall's microphone in it."""
    async with _lkapi(settings) as lk:
        await lk.room.create_room(api.CreateRoomRequest(name=CENTRAL_HALL_ROOM))
    token = mint_token(
        settings.livekit, identity="hoi-truong-tw", ttl=timedelta(hours=1),
        grants=video_grants(ParticipantKind.OFFICER, CENTRAL_HALL_ROOM), name=CENTRAL_HALL,
        attributes={"kind": ParticipantKind.OFFICER, "connection_point": CENTRAL_HALL},
    )  # fmt: skip
    return await VoiceBot.join(settings.livekit.url, token)


async def _bridge_running(client: DemoClient, bridge_id: int) -> bool:
    bridges = await client.api(CENTRAL, "GET", "/bridges")
    return any(b["id"] == bridge_id and b["state"] == "running" for b in bridges)


async def _talk_back(client: DemoClient, bridge_id: int, hall: Voice, audio: np.ndarray) -> None:
    """The hall asks its question into the session: talk-back on, speak, talk-back off."""
    path = f"/bridges/{bridge_id}"
    await client.api(CENTRAL, "PATCH", path, json={"talk_back": True})
    await asyncio.sleep(TALK_BACK_SETTLE_S)
    await hall.play(audio)
    await asyncio.sleep(TALK_BACK_SETTLE_S)
    await client.api(CENTRAL, "PATCH", path, json={"talk_back": False})


async def _follow_pipeline(client: DemoClient, session_id: int) -> None:
    """A progress bar over the pipeline, until the session is archived and indexed."""
    path = f"/sessions/{session_id}/processing"
    deadline = time.monotonic() + PIPELINE_TIMEOUT_S
    with tqdm(total=100.0, unit="%", bar_format="    {l_bar}{bar}| {n:.0f}% {postfix}") as bar:
        while True:
            state = await client.api(CHAIR, "GET", path)
            bar.update(state["percent"] - bar.n)
            bar.set_postfix_str(", ".join(state["steps_done"]))
            if state["state"] == "failed":
                raise DemoError(f"pipeline failed: {state['error']}")
            if state["session_status"] == "archived" and "index" in state["steps_done"]:
                break
            if time.monotonic() > deadline:
                raise DemoError(f"pipeline not done within {PIPELINE_TIMEOUT_S:.0f} s: {state}")
            await asyncio.sleep(1.0)
    for warning in state["warnings"]:
        bar.write(f"    warning: {warning}")


async def _show_archive(settings: Settings, session: dict[str, Any], echo: Echo) -> None:
    client = make_s3_client(settings.s3)
    start = datetime.fromisoformat(session["starts_at"]).astimezone(VN_TZ)
    prefix = session_prefix(start.year, session["province_code"], int(session["id"]))

    public_key = signing_key(settings).public_key()
    manifest = await asyncio.to_thread(
        latest_manifest, client, settings.s3.bucket, public_key, prefix
    )
    if manifest is None:
        raise DemoError(f"nothing archived under s3://{settings.s3.bucket}/{prefix}")
    echo(f"    s3://{settings.s3.bucket}/{manifest.key} signs:")
    for obj in sorted(manifest.objects, key=lambda o: o.key):
        echo(f"      {obj.key}  ({obj.record_type}, kept until {obj.retain_until[:10]})")
    reports = await asyncio.to_thread(
        verify_archive, client, settings.s3.bucket, public_key,
        session_id=int(session["id"]),
    )  # fmt: skip
    for line in report_lines(reports):
        echo(f"    verify: {line}")
    if not reports or not all(r.ok for r in reports):
        raise DemoError("the archive does not verify")


async def _show_search(
    settings: Settings, client: DemoClient, session_id: int, echo: Echo
) -> list[dict[str, Any]]:
    found = await client.api(
        ARCHIVIST, "GET", f"/search?q={quote(SEARCH_QUERY)}&session_id={session_id}"
    )
    echo(f"    {found['total']} hit(s)")
    for hit in found["hits"]:
        text = unescape(re.sub(r"</?mark>", "", hit["snippet_html"]))
        echo(f"    [{hit['start_s']:6.1f} s] {hit['speaker_name']}: {text}")
        echo(f"      {settings.web.public_url}{hit['playback_url']}")
    if not found["total"]:
        raise DemoError(f'no hit for "{SEARCH_QUERY}": the transcript missed every "bồi thường"')
    return list(found["hits"])


async def until_interrupted(_run: DemoRun) -> None:
    """Keep the demo up for exploring until Ctrl-C (or SIGTERM)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
