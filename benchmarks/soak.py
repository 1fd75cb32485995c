"""Soak: reception sessions for N minutes while processes die at random, then the invariants.

The orchestrator, a media agent and a worker run as child processes against the local stack (a
PostgreSQL database, a Redis database and a bucket of the soak's own). Sessions run back to back,
a few at once, each with two rtc speakers that talk in bursts; meanwhile every 15-30 s one of
agent, worker, orchestrator, Redis, LiveKit or S3 is killed (SIGKILL) and started again a few
seconds later. After the soak's time every session is ended, the pipeline is given time to drain,
and for every session it checks:

- archived exactly once (status ``archived``, one manifest revision in the bucket);
- every loss covered by a gap: each second a speaker spoke that no archived segment holds lies
  inside a gap of that speaker's track, which says why;
- verify true to what happened: ``verify_archive`` passes, and every segment ``recording.json``
  lists is archived with the size and SHA-256 it gives.

It prints a summary (sessions, faults injected, seconds of audio lost per fault, sessions stuck)
and exits 1 when any session is stuck or breaks an invariant. Loopback only, bounded in time.

Run: ``make soak`` (``SOAK_MINUTES=3 make soak``), or ``.venv/bin/python benchmarks/soak.py
--minutes 3`` with the local stack up (``--with postgres``). Figures: ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import redis
from sqlalchemy import select

from config import Settings, load_settings
from config.local_stack import LocalStack
from config.local_stack.ports import taken_ports
from media import mint_token
from media.grants import ParticipantKind, video_grants
from media.voice_bot import VoiceBot
from orchestrator.core.timezone import VN_TZ
from orchestrator.core.vocabulary import SessionStatus
from orchestrator.db import create_engine, migrate, session_factory
from orchestrator.db.models import ReceptionSession
from orchestrator.scheduling.launch_links import launch_url
from storage.archive import signing_key, verify_archive
from storage.records import session_prefix
from storage.s3 import make_s3_client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' tones and databases
from tests.audio import sine  # noqa: E402
from tests.databases import empty_database  # noqa: E402
from tests.seeding import province_chair  # noqa: E402

TIEPDAN = str(Path(sys.executable).parent / "tiepdan")
OUR_PROCESSES = ("agent", "worker", "orchestrator")
STACK_PARTS = ("redis", "livekit", "s3")
RATE = 48000
BURST_S, PAUSE_S = 2.0, 1.0
# Speech edges: a burst's first and last moments may fall either side of a segment boundary.
EDGE_S = 0.4
API_RETRY_S = 120.0
DRAIN_S = 360.0
BROKER_DB = 9  # Redis database of the soak's jobs: the tests use 1, 3, 5 and 8


@dataclass
class Fault:
    target: str
    killed_at: float  # time.time()
    back_at: float = 0.0
    lost_s: float = 0.0


@dataclass
class Spoken:
    identity: str
    start: float  # time.time()
    end: float


@dataclass
class SoakSession:
    id: int
    room: str
    spoken: list[Spoken] = field(default_factory=list)
    # Kept until the process ends: a dropped rtc room can crash the FFI when collected.
    bots: list[VoiceBot] = field(default_factory=list)


@dataclass
class Verdict:
    session_id: int
    status: str
    problems: list[str]
    lost_s: float
    uncovered_s: float


class Children:
    """The soak's own processes, each in its own process group, logging to ``logs``."""

    def __init__(self, env: dict[str, str], logs: Path, spool: Path) -> None:
        self.env, self.logs, self.spool = env, logs, spool
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def command(self, name: str) -> list[str]:
        return {
            "orchestrator": [TIEPDAN, "serve"],
            "agent": [TIEPDAN, "media", "--agent-id", "soak-agent", "--spool-dir", str(self.spool)],
            "worker": [TIEPDAN, "worker", "--queues=transcribe,media,archive",
                       "--hostname=soak@%h"],
        }[name]  # fmt: skip

    def start(self, name: str) -> None:
        with (self.logs / f"{name}.log").open("ab") as log:
            self.procs[name] = subprocess.Popen(
                self.command(name), env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        self.procs.clear()


def kill_stack_part(settings: Settings, name: str) -> None:
    stack = LocalStack(settings, report=lambda _line: None)
    [part] = [p for p in stack.parts if p.name == name]
    proc = stack._process(part).running()
    if proc is not None:
        os.killpg(proc.pid, signal.SIGKILL)


def stack_up() -> None:
    """`tiepdan stack up`, as an operator (or systemd) would: restarts whatever is down."""
    subprocess.run([TIEPDAN, "stack", "up"], capture_output=True, timeout=120, check=True)


async def inject_faults(
    until: float, rng: random.Random, children: Children, settings: Settings, faults: list[Fault]
) -> None:
    """Every 15-30 s kill one process (SIGKILL) and start it again 2-8 s later."""
    while time.time() + 30 < until:
        await asyncio.sleep(rng.uniform(15, 30))
        target = rng.choice(OUR_PROCESSES + STACK_PARTS)
        fault = Fault(target, time.time())
        print(f"  fault: kill -9 {target}", flush=True)
        if target in OUR_PROCESSES:
            children.kill(target)
        else:
            await asyncio.to_thread(kill_stack_part, settings, target)
        await asyncio.sleep(rng.uniform(2, 8))
        if target in OUR_PROCESSES:
            children.start(target)
        else:
            await asyncio.to_thread(stack_up)
        fault.back_at = time.time()
        faults.append(fault)


class Api:
    """The orchestrator's API as the chair, every call retried while the orchestrator is away."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self.http, self.base = http, base_url
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, url: str, accept: tuple[int, ...], **kw: Any) -> Any:
        deadline = time.time() + API_RETRY_S
        while True:
            try:
                async with self.http.request(
                    method, url if url.startswith("http") else self.base + "/api/v1" + url,
                    headers=self.headers, allow_redirects=False, **kw,
                ) as r:  # fmt: skip
                    if r.status in accept:
                        return await r.json(content_type=None) if r.status != 303 else None
                    error = f"{r.status} {await r.text()}"
            except (aiohttp.ClientError, TimeoutError) as e:
                error = repr(e)
            if time.time() > deadline:
                raise RuntimeError(f"{method} {url}: {error}")
            await asyncio.sleep(1.0)


async def run_session(
    api: Api, settings: Settings, db: Any, who: tuple[int, int], session_s: float, index: int
) -> SoakSession:
    """One session: created, launched, two speakers talking in bursts for ``session_s``, ended
    by the chair."""
    agency_id, chair_id = who
    start = datetime.now(UTC) + timedelta(minutes=5)
    body = {
        "title": f"Phiên soak {index}",
        "kind": "periodic",
        "agency_id": agency_id,
        "chair_id": chair_id,
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=1)).isoformat(),
        "connection_points": [{"name": "UBND xã Gia Viễn", "tier": "commune"}],
    }
    [created] = await api.call("POST", "/sessions", (201,), json=body)
    async with db() as s:
        row = await s.get(ReceptionSession, created["id"])
    await api.call("GET", launch_url(settings, chair_id, row), (303,))
    session = SoakSession(created["id"], f"ninh-binh-{created['id']}")
    bots = [await join(settings, session.room, f"soak{session.id}-{who}")
            for who in ("citizen", "officer")]  # fmt: skip
    session.bots = bots
    tone = sine(440, BURST_S, RATE)
    until = time.time() + session_s
    while time.time() < until:
        began = time.time()
        await asyncio.gather(*(bot.play(tone) for bot in bots))
        ended = time.time()
        for speaker in ("citizen", "officer"):
            session.spoken.append(Spoken(f"soak{session.id}-{speaker}", began, ended))
        await asyncio.sleep(PAUSE_S)
    await api.call("POST", f"/sessions/{session.id}/end", (200, 409))
    for bot in bots:
        await bot.aclose()
    return session


async def join(settings: Settings, room: str, identity: str) -> VoiceBot:
    token = mint_token(
        settings.livekit, identity=identity, grants=video_grants(ParticipantKind.CITIZEN, room),
        ttl=timedelta(hours=1), name=identity,
        attributes={"kind": "citizen", "connection_point": "UBND xã Gia Viễn"},
    )  # fmt: skip
    deadline = time.time() + API_RETRY_S
    while True:
        try:
            return await VoiceBot.join(settings.livekit.url, token)
        except Exception:  # noqa: BLE001 - LiveKit away or the room not there yet: try again
            if time.time() > deadline:
                raise
            await asyncio.sleep(2.0)


def _union(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1] + 0.05:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


Span = tuple[float, float]


def _minus(span: Span, cover: list[Span]) -> list[Span]:
    pieces, (a, b) = [], span
    for c, d in cover:
        if d <= a or c >= b:
            continue
        if c > a:
            pieces.append((a, c))
        a = max(a, d)
    if a < b:
        pieces.append((a, b))
    return pieces


def losses(
    recording: dict[str, Any], spoken: list[Spoken]
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """(lost, uncovered): the times (Unix) a speaker spoke that no segment holds, and of those
    the times no gap of that speaker's track covers."""
    t0 = datetime.fromisoformat(recording["session_started_at"]).timestamp()
    segments: dict[str, list[tuple[float, float]]] = defaultdict(list)
    gaps: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for track in recording["tracks"]:
        who = track["participant_identity"]
        segments[who] += [(s["start_s"] + t0, s["end_s"] + t0) for s in track["segments"]]
        gaps[who] += [(g["start_s"] + t0 - EDGE_S, g["end_s"] + t0 + EDGE_S)
                      for g in track["gaps"]]  # fmt: skip
    lost, uncovered = [], []
    for s in spoken:
        span = (s.start + EDGE_S, s.end - EDGE_S)
        for piece in _minus(span, _union(segments[s.identity])):
            if piece[1] - piece[0] < 0.2:
                continue
            lost.append(piece)
            uncovered += [p for p in _minus(piece, _union(gaps[s.identity])) if p[1] - p[0] >= 0.2]
    return lost, uncovered


def blame(faults: list[Fault], at: float) -> Fault | None:
    """The fault whose outage (and the rejoin after it) ``at`` falls in."""
    for fault in reversed(faults):
        if fault.killed_at - 2 <= at <= fault.back_at + 40:
            return fault
    return None


async def judge(
    session: SoakSession, settings: Settings, db: Any, faults: list[Fault], orphans: list[float]
) -> Verdict:
    async with db() as s:
        row = await s.scalar(select(ReceptionSession).where(ReceptionSession.id == session.id))
    assert row is not None
    problems = []
    if row.status is not SessionStatus.ARCHIVED:
        problems.append(f"{row.status.value}: {row.status_reason}")
        return Verdict(session.id, row.status.value, problems, 0.0, 0.0)
    client = make_s3_client(settings.s3)
    prefix = session_prefix(row.starts_at.astimezone(VN_TZ).year, "ninh-binh", session.id)
    keys = [o.object_name for o in client.list_objects(settings.s3.bucket, prefix, recursive=True)]
    manifests = [k for k in keys if k.rsplit("/", 1)[-1].startswith("manifest-")]
    if len(manifests) != 1:
        problems.append(f"archived {len(manifests)} times: {manifests}")
    reports = verify_archive(client, settings.s3.bucket, signing_key(settings).public_key(),
                             session_id=session.id)  # fmt: skip
    problems += [p for r in reports for p in r.problems]
    response = client.get_object(settings.s3.bucket, prefix + "recording.json")
    try:
        recording = json.loads(response.read())
    finally:
        response.close()
        response.release_conn()
    archived = {o.object_name: o for o in client.list_objects(settings.s3.bucket, prefix,
                                                               recursive=True)}  # fmt: skip
    for track in recording["tracks"]:
        for seg in track["segments"]:
            obj = next((o for k, o in archived.items() if k.endswith("/" + seg["path"])), None)
            if obj is None or obj.size != seg["bytes"]:
                problems.append(f"{seg['path']}: not archived as recording.json lists it")
    lost, uncovered = losses(recording, session.spoken)
    for a, b in lost:
        fault = blame(faults, a)
        if fault is None:
            orphans.append(b - a)
        else:
            fault.lost_s += b - a
    if uncovered:
        problems.append("loss not covered by a gap: " + ", ".join(
            f"{b - a:.1f} s at {time.strftime('%H:%M:%S', time.localtime(a))}"
            for a, b in uncovered))  # fmt: skip
    return Verdict(session.id, row.status.value, problems, sum(b - a for a, b in lost),
                   sum(b - a for a, b in uncovered))  # fmt: skip


async def seed(db: Any) -> tuple[int, int, str]:
    async with db() as s:
        agency, chair, token = await province_chair(
            s, "Ban Tiếp công dân tỉnh Ninh Bình (soak)", "soak.chair", "Chủ trì",
            "soak-password-2026",
        )  # fmt: skip
        await s.commit()
        return agency.id, chair.id, token


async def soak(minutes: float, at_once: int, session_s: float, seed_value: int) -> int:
    base = load_settings()
    if taken_ports([base.web.port], []):
        # A leftover orchestrator would answer for ours, against another database.
        print(f"port {base.web.port} is taken: stop what listens there first", file=sys.stderr)
        return 2
    run = uuid.uuid4().hex[:8]
    bucket = f"tiepdan-soak-{run}"
    broker = base.broker.url.rsplit("/", 1)[0] + f"/{BROKER_DB}"
    # Emptied first: jobs an earlier run left there name sessions of another database (one
    # marked this run's live session 1 failed).
    redis.Redis.from_url(broker).flushdb()
    work = Path(tempfile.mkdtemp(prefix="tiepdan-soak-"))
    (work / "logs").mkdir()
    print(f"soak {run}: {minutes:g} min, {at_once} sessions at once, logs in {work / 'logs'}")
    async with empty_database("postgresql", base, work) as db_url:
        env = {
            **os.environ, "TIEPDAN_DB__URL": db_url, "TIEPDAN_BROKER__URL": broker,
            "TIEPDAN_S3__BUCKET": bucket, "TIEPDAN_LIVEKIT__ROOM_LOST_GRACE_S": "60",
            **{f"TIEPDAN_S3__RETENTION_{k}_DAYS": "1"
               for k in ("MEDIA", "TRANSCRIPT", "MINUTES", "METADATA")},
        }  # fmt: skip
        settings = base.model_copy(update={
            "db": base.db.model_copy(update={"url": db_url}),
            "s3": base.s3.model_copy(update={"bucket": bucket}),
        })  # fmt: skip
        engine = create_engine(db_url)
        await migrate(engine)
        db = session_factory(engine)
        agency_id, chair_id, token = await seed(db)
        children = Children(env, work / "logs", work / "spool")
        for name in OUR_PROCESSES:
            children.start(name)
        faults: list[Fault] = []
        sessions: list[SoakSession] = []
        failures: list[str] = []
        until = time.time() + minutes * 60
        rng = random.Random(seed_value)
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
                api = Api(http, base.web.public_url, token)

                async def lane(lane_no: int) -> None:
                    index = lane_no
                    while time.time() + session_s < until:
                        try:
                            sessions.append(await run_session(
                                api, settings, db, (agency_id, chair_id), session_s, index
                            ))  # fmt: skip
                        except Exception as e:  # noqa: BLE001 - reported, and the soak goes on
                            failures.append(f"session {index}: {e!r}")
                        index += at_once

                await asyncio.gather(
                    inject_faults(until, rng, children, settings, faults),
                    *(lane(n) for n in range(at_once)),
                )
                print(f"  {len(sessions)} sessions ended; waiting for their pipelines", flush=True)
                await drain(db, sessions)
            orphans: list[float] = []
            verdicts = []
            for session in sessions:
                verdicts.append(await judge(session, settings, db, faults, orphans))
                print(f"  session {session.id}: {verdicts[-1]}", flush=True)
        finally:
            children.stop_all()
            await engine.dispose()
    return report(sessions, faults, verdicts, orphans, failures)


async def drain(db: Any, sessions: list[SoakSession]) -> None:
    ids = [s.id for s in sessions]
    deadline = time.time() + DRAIN_S
    while time.time() < deadline:
        async with db() as s:
            statuses = list(await s.scalars(
                select(ReceptionSession.status).where(ReceptionSession.id.in_(ids))))  # fmt: skip
        if all(x in (SessionStatus.ARCHIVED, SessionStatus.FAILED) for x in statuses):
            return
        await asyncio.sleep(5)


def report(
    sessions: list[SoakSession], faults: list[Fault], verdicts: list[Verdict],
    orphans: list[float], failures: list[str],
) -> int:  # fmt: skip
    stuck = [v for v in verdicts if v.status not in ("archived", "failed")]
    bad = [v for v in verdicts if v.problems]
    print("\n== soak summary ==")
    print(f"sessions: {len(sessions)} ({Counter(v.status for v in verdicts)})")
    print(f"faults injected: {len(faults)} ({dict(Counter(f.target for f in faults))})")
    print("seconds of speech lost per fault:")
    for f in faults:
        when = time.strftime("%H:%M:%S", time.localtime(f.killed_at))
        down = f.back_at - f.killed_at
        print(f"  {when} {f.target:12} down {down:4.1f} s, lost {f.lost_s:5.1f} s")
    if orphans:
        print(f"  (no fault) lost {sum(orphans):.1f} s in {len(orphans)} pieces")
    for target in OUR_PROCESSES + STACK_PARTS:
        mine = [f.lost_s for f in faults if f.target == target]
        if mine:
            print(f"  per {target} kill: mean {np.mean(mine):.1f} s, max {max(mine):.1f} s")
    print(f"sessions stuck: {len(stuck)}")
    print(f"sessions breaking an invariant: {len(bad)}", flush=True)
    for v in bad:
        print(f"  session {v.session_id} ({v.status}): " + "; ".join(v.problems)[:600])
    for failure in failures:
        print(f"  could not run {failure}")
    return 1 if stuck or bad or failures else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--at-once", type=int, default=2, help="sessions running at once")
    parser.add_argument("--session-s", type=float, default=60.0, help="length of a session")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    print(f"seed {args.seed}")
    code = asyncio.run(soak(args.minutes, args.at_once, args.session_s, args.seed))
    sys.stdout.flush()
    # No interpreter teardown: livekit's FFI has crashed collecting rtc rooms at exit.
    os._exit(code)


if __name__ == "__main__":
    main()
