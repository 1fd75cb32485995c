"""Session end → searchable: how long after a session's recording is complete a search finds what
was said last, end to end through real Celery workers on the local stack.

A session of ``--minutes`` (default 60) with four speakers is built from the real voices of
``shared/audio`` (the clips dealt over four tracks as in ``bench_transcribe.py``'s human session,
looped with pauses of 0.5-3 s until the session is long enough), each track cut into 10 s
Ogg/Opus segment files with the ``recording.json`` manifest, as the media agent's recorder
leaves them (``tests/recording_fixtures.py``). The session is seeded in a PostgreSQL database of
its own; ``tiepdan worker`` processes (``--worker``, one per option: its extra arguments) run on
a Redis database and a bucket of the benchmark's own. Then ``tiepdan.session_ended`` is sent
(what the orchestrator's outbox sends once the session ended and its recording is complete: the
outbox's own delay is left out), and the clock runs until the archive search
(``orchestrator.search.search``), asked for the words of the session's last utterance, returns
it, and it lies in the session's last minute (so the whole session was transcribed; the words
are the model's, not the reference's, so one misheard clip cannot stop the clock for good, and
the last minute rather than the last turn, as the model may hear nothing in one short clip: at
60.7 min it left the last turn out once).

Where the time goes is read from the workers' Celery task events (enabled by remote control):
each task's queue wait (from the end of the task that sent it) and run time, every track's
transcription time and real-time factor, and the CPU seconds the workers' processes used (a
fairer figure than wall time on a shared machine). It prints tables; it asserts no time.

Run, with the local stack up (``tiepdan stack up --with postgres``):
``.venv/bin/python benchmarks/bench_end_to_searchable.py [--minutes 10] [--worker ARGS]...``.
Figures: ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import select

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # for tests.*: the recorder's layout, shared with the tests

from bench_transcribe import AUDIO, HUMAN_SPEAKERS, Layout, human_turns, lay_out, write_wav  # noqa: E402

from config import Settings, load_settings  # noqa: E402
from orchestrator.accounts.schemas import UserCreate  # noqa: E402
from orchestrator.accounts.service import new_user  # noqa: E402
from orchestrator.core.vocabulary import Role, SessionKind, SessionStatus, Tier  # noqa: E402
from orchestrator.db import create_engine, migrate, session_factory  # noqa: E402
from orchestrator.db.models import (  # noqa: E402
    Agency,
    Attendance,
    ProcessingTrack,
    ReceptionSession,
    RecordingRequest,
    SessionProcessing,
    TranscriptUtterance,
    User,
)
from orchestrator.search import SearchFilters, search  # noqa: E402
from storage.spool import AUDIO_SEGMENT_SUFFIX  # noqa: E402
from tests.audio import normalise  # noqa: E402
from tests.databases import empty_database  # noqa: E402
from tests.recording_fixtures import SpokenTrack, write_recording  # noqa: E402
from transcription import TaskName, create_celery, send  # noqa: E402

TIEPDAN = str(Path(sys.executable).parent / "tiepdan")
SPEAKERS = (
    ("chair-1", "Lê Văn Chủ", "chair", "Ban TCD tỉnh Ninh Bình"),
    ("citizen-2", "Trần Thị Bình", "citizen", "UBND xã Gia Viễn"),
    ("citizen-3", "Phạm Văn Cường", "citizen", "UBND xã Nho Quan"),
    ("officer-4", "Nguyễn Thị Dung", "officer", "Sở Tài nguyên và Môi trường"),
)
PAUSES = (0.5, 3.0)
POLL_S = 0.5


# --- the recorded session -----------------------------------------------------------------------


def session_layout(minutes: float, audio: Path) -> Layout:
    """``shared/audio``'s turns, over and over, until the session lasts ``minutes`` (laid out
    again with more turns while it falls short: overlapping turns make the length a guess)."""
    clips = human_turns(audio)
    turns = len(clips)
    while True:
        looped = [clips[i % len(clips)] for i in range(turns)]
        layout = lay_out(HUMAN_SPEAKERS, looped, random.Random(11), PAUSES, overlap=0.2)
        if layout.duration_s >= minutes * 60:
            return layout
        turns = max(turns + 1, math.ceil(turns * minutes * 60 / layout.duration_s))


def record(directory: Path, room: str, started: datetime, layout: Layout) -> Path:
    """Each speaker's whole track as the recorder writes it; the manifest's path."""
    tracks = []
    for index, (identity, name, role, point) in enumerate(SPEAKERS):
        wav = write_wav(directory / f"{identity}.wav", layout.tracks[index])
        tracks.append(SpokenTrack(identity, name, role, point, audio=((0.0, wav),)))
    manifest = write_recording(directory, room, started, tracks)
    for track in tracks:
        for _start, wav in track.audio:
            wav.unlink()
    return manifest


async def seed(db: Any, manifest: Path, room: str, started: datetime, minutes: float) -> int:
    """An admin to search as, and the ended session whose recording is ``manifest``; its id."""
    async with db() as s:
        agency = Agency(name="Ban Tiếp công dân tỉnh Ninh Bình", tier=Tier.PROVINCE,
                        province_code="ninh-binh")  # fmt: skip
        s.add(agency)
        await s.flush()
        admin = new_user(UserCreate(username="bench", display_name="Bench", role=Role.ADMIN,
                                    password="mat-khau-dai-du", agency_id=agency.id,
                                    cleared=True))  # fmt: skip
        s.add(admin)
        await s.flush()
        ended = started + timedelta(minutes=minutes)
        session = ReceptionSession(
            title="Tiếp công dân định kỳ (đo thời gian đến khi tìm được)",
            kind=SessionKind.PERIODIC, agency_id=agency.id, chair_id=admin.id,
            starts_at=started, ends_at=ended, status=SessionStatus.PROCESSING, language="vi",
            room_name=room,
        )  # fmt: skip
        s.add(session)
        await s.flush()
        for i, (identity, name, _role, _point) in enumerate(SPEAKERS):
            s.add(Attendance(session_id=session.id, identity=identity, participant_sid=f"PA_{i}",
                             display_name=name, joined_at=started, left_at=ended))  # fmt: skip
        s.add(RecordingRequest(session_id=session.id, room_name=room, requested_at=started,
                               agent_id="bench", completed_at=ended,
                               manifest_path=str(manifest)))  # fmt: skip
        await s.commit()
        return session.id


# --- the workers and their task events ----------------------------------------------------------


@contextmanager
def workers(specs: list[str], env: dict[str, str], logs: Path) -> Iterator[list[psutil.Process]]:
    """``tiepdan worker`` processes, one per spec (its extra arguments), each in its own process
    group; stopped (warm shutdown, then SIGKILL) at the end."""
    procs = []
    for i, spec in enumerate(specs):
        with (logs / f"worker{i}.log").open("ab") as log:
            procs.append(subprocess.Popen(
                [TIEPDAN, "worker", *shlex.split(spec), f"--hostname=bench{i}@%h"], env=env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            ))  # fmt: skip
    try:
        yield [psutil.Process(p.pid) for p in procs]
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)


def cpu_seconds(procs: list[psutil.Process]) -> float:
    """User + system CPU seconds of the workers, their pool processes and the processes these
    ran and reaped (ffmpeg) so far."""
    total = 0.0
    for proc in procs:
        for p in (proc, *proc.children(recursive=True)):
            try:
                t = p.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += t.user + t.system + t.children_user + t.children_system
    return total


@dataclass
class TaskRun:
    """One task as its events tell it."""

    name: str = ""
    args: str = ""
    parent: str | None = None
    started: float | None = None
    ended: float | None = None
    worker: str = ""


class TaskEvents:
    """Every task event of the broker, collected on a thread."""

    def __init__(self, app: Any) -> None:
        self.runs: dict[str, TaskRun] = {}
        self._app = app
        self._receiver: Any = None
        self._thread = threading.Thread(target=self._capture, name="task-events", daemon=True)
        self._thread.start()

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type", "")
        if not kind.startswith("task-"):
            return
        run = self.runs.setdefault(event["uuid"], TaskRun())
        if kind == "task-received":
            run.name, run.args = event["name"], event.get("args", "")
            run.parent = event.get("parent_id")
        elif kind == "task-started":
            run.started, run.worker = event["timestamp"], event.get("hostname", "")
        elif kind in ("task-succeeded", "task-failed"):
            run.ended = event["timestamp"]

    def _capture(self) -> None:
        with self._app.connection() as conn:
            self._receiver = self._app.events.Receiver(conn, handlers={"*": self._on_event})
            self._receiver.capture(limit=None, timeout=None, wakeup=True)

    def close(self) -> None:
        if self._receiver is not None:
            self._receiver.should_stop = True
        self._thread.join(timeout=5)


def wait_for_workers(app: Any, count: int, timeout_s: float = 180) -> None:
    """Until ``count`` workers answer a ping, then switch their task events on."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if len(app.control.ping(timeout=1.0) or []) >= count:
            app.control.enable_events(reply=True, timeout=2.0)
            return
    raise SystemExit(f"{count} worker(s) did not answer within {timeout_s:.0f} s (see logs)")


# --- the run ------------------------------------------------------------------------------------


async def steps_done(db: Any, session_id: int) -> tuple[str, list[str]]:
    async with db() as s:
        row = await s.get(SessionProcessing, session_id)
        return (row.state, list(row.steps_done)) if row else ("", [])


# The session's last utterance lies this close to its end once it is transcribed to its end.
LAST_S = 60.0


def probe_words(text: str) -> str:
    """The three longest words of ``text``, as an OR query."""
    words = sorted(set(normalise(text).split()), key=len, reverse=True)[:3]
    return " OR ".join(words)


async def found_last_said(db: Any, session_id: int, window: tuple[float, float]) -> bool:
    """Whether the session's last transcribed utterance lies inside ``window`` (the last minute:
    the session was transcribed to its end) and the search finds it by its own words (what the
    model heard, so a misheard clip cannot stop the clock for good)."""
    async with db() as s:
        last = (
            await s.execute(
                select(TranscriptUtterance.start_s, TranscriptUtterance.text)
                .where(TranscriptUtterance.session_id == session_id)
                .order_by(TranscriptUtterance.start_s.desc())
                .limit(1)
            )
        ).first()
        if last is None or not window[0] <= last.start_s <= window[1]:
            return False
        user = await s.scalar(select(User).where(User.username == "bench"))
        query = probe_words(last.text)
        for page in range(1, 50):
            result = await search(s, user, query, SearchFilters(session_id=session_id),
                                  page=page, per_page=50)  # fmt: skip
            if any(abs(h.start_s - last.start_s) < 0.01 for h in result.hits):
                return True
            if page * 50 >= result.total:
                return False
    return False


@dataclass(frozen=True)
class Outcome:
    searchable_s: float | None
    index_done_s: float | None
    worker_cpu_s: float
    state: str


async def run_pipeline(
    app: Any, db: Any, session_id: int, layout: Layout, procs: list[psutil.Process],
    timeout_s: float, t0: float,
) -> Outcome:  # fmt: skip
    """Send ``session_ended`` and wait until the last minute is found (or the pipeline fails)."""
    _speaker, start, _text, seconds = layout.placed[-1]
    window = (start + seconds - LAST_S, start + seconds + 1.0)
    cpu0 = cpu_seconds(procs)
    send(app, TaskName.SESSION_ENDED, session_id)
    index_done: float | None = None
    while time.time() - t0 < timeout_s:
        state, done = await steps_done(db, session_id)
        if state == "failed":
            return Outcome(None, None, cpu_seconds(procs) - cpu0, state)
        if "index" in done:
            index_done = index_done or time.time() - t0
            if await found_last_said(db, session_id, window):
                return Outcome(time.time() - t0, index_done, cpu_seconds(procs) - cpu0, state)
            if time.time() - t0 > index_done + 10:
                # Indexed, yet nothing transcribed lies in the last minute, or the search did
                # not find it: say so.
                print(f"  no utterance in the last minute {window} was found", flush=True)
                return Outcome(None, index_done, cpu_seconds(procs) - cpu0, state)
        await asyncio.sleep(POLL_S)
    return Outcome(None, index_done, cpu_seconds(procs) - cpu0, "timed out")


# --- the report ---------------------------------------------------------------------------------

STEP_NAMES = {
    TaskName.SESSION_ENDED.value: "plan (session_ended)",
    TaskName.MERGE_TRANSCRIPT.value: "merge",
    TaskName.PREMIX_AUDIO.value: "premix (while transcribing)",
    TaskName.MIX_AUDIO.value: "mix",
    TaskName.RENDER_MINUTES.value: "minutes",
    TaskName.ARCHIVE_SESSION.value: "archive",
    TaskName.INDEX_SESSION.value: "index",
}


async def report(
    db: Any, session_id: int, runs: dict[str, TaskRun], layout: Layout, t0: float,
    outcome: Outcome, wall_s: float,
) -> None:  # fmt: skip
    async with db() as s:
        tracks = {t.track_sid: t for t in await s.scalars(
            select(ProcessingTrack).where(ProcessingTrack.session_id == session_id))}  # fmt: skip
    speech = [0.0] * HUMAN_SPEAKERS
    for speaker, _start, _text, seconds in layout.placed:
        speech[speaker] += seconds
    mine = {u: r for u, r in runs.items() if r.started is not None and r.args}

    def sent_at(run: TaskRun) -> float:
        parent = runs.get(run.parent or "")
        return parent.ended if parent and parent.ended else t0

    def rel(t: float | None) -> str:
        return f"{t - t0:7.1f}" if t is not None else "      -"

    print("\n== where the time goes (seconds after the session ended) ==")
    print(f"{'step':34} {'sent':>7} {'wait':>6} {'started':>7} {'run':>7} {'ended':>7}  worker")
    for run in sorted(mine.values(), key=lambda r: r.started or 0):
        label = STEP_NAMES.get(run.name)
        if label is None:
            sid = re.findall(r"'([^']+)'", run.args)
            track = tracks.get(sid[0]) if sid else None
            label = f"transcribe {track.display_name if track else run.args}"
        sent = sent_at(run)
        assert run.started is not None
        took = (run.ended or run.started) - run.started
        print(f"{label[:34]:34} {rel(sent)} {run.started - sent:6.1f} {rel(run.started)} "
              f"{took:7.1f} {rel(run.ended)}  {run.worker.split('@')[0]}")  # fmt: skip
    print("\n== tracks ==")
    print(f"{'speaker':18} {'audio s':>8} {'speech s':>8} {'run s':>7} {'RTF audio':>9} "
          f"{'RTF speech':>10}")  # fmt: skip
    by_sid = {re.findall(r"'([^']+)'", r.args)[0]: r for r in mine.values()
              if r.name == TaskName.TRANSCRIBE_TRACK.value}  # fmt: skip
    index = {identity: i for i, (identity, *_rest) in enumerate(SPEAKERS)}
    for sid, track in sorted(tracks.items()):
        run = by_sid.get(sid)
        took = (run.ended - run.started) if run and run.ended and run.started else 0.0
        sp = speech[index[track.identity]]
        print(f"{track.display_name:18} {track.audio_s:8.0f} {sp:8.0f} {took:7.1f} "
              f"{took / max(track.audio_s, 1):9.3f} {took / max(sp, 1):10.3f}")  # fmt: skip
    starts = [r.started for r in by_sid.values() if r.started]
    ends = [r.ended for r in by_sid.values() if r.ended]
    print("\n== summary ==")
    print(f"session {layout.duration_s / 60:.1f} min, {HUMAN_SPEAKERS} speakers, speech "
          f"{layout.speech_s / 60:.1f} min ({layout.speech_s / layout.duration_s:.0%} of the "
          f"session, summed over tracks)")  # fmt: skip
    if starts and ends:
        print(f"transcription: first track started {min(starts) - t0:.1f} s, last ended "
              f"{max(ends) - t0:.1f} s after the end")  # fmt: skip
    if outcome.index_done_s is not None:
        print(f"index step recorded done at {outcome.index_done_s:.1f} s")
    searchable = f"{outcome.searchable_s:.1f} s" if outcome.searchable_s else "not found"
    print(f"session end → searchable: {searchable} ({outcome.state})")
    print(f"workers' CPU: {outcome.worker_cpu_s:.0f} s over {wall_s:.0f} s "
          f"({outcome.worker_cpu_s / max(wall_s, 1):.2f} cores busy on average)")  # fmt: skip
    print(f"load average now: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} cores)")  # fmt: skip


async def bench(minutes: float, worker_specs: list[str], timeout_s: float, audio: Path) -> int:
    base = load_settings()
    run_id = uuid.uuid4().hex[:8]
    work = Path(tempfile.mkdtemp(prefix="tiepdan-e2e-"))
    (work / "logs").mkdir()
    directory = work / "recording"
    directory.mkdir()
    print(f"e2e {run_id}: {minutes:g} min session; workers {worker_specs}; files in {work}")
    built = time.monotonic()
    layout = session_layout(minutes, audio)
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes)
    room = f"ninh-binh-e2e-{run_id}"
    manifest = await asyncio.to_thread(record, directory, room, started, layout)
    files = sum(1 for _ in directory.rglob("*" + AUDIO_SEGMENT_SUFFIX))
    print(f"  recording built in {time.monotonic() - built:.0f} s ({files} segment files)",
          flush=True)  # fmt: skip
    broker = base.broker.url.rsplit("/", 1)[0] + "/6"
    bucket = f"tiepdan-e2e-{run_id}"
    async with empty_database("postgresql", base, work) as db_url:
        env = {
            **os.environ, "TIEPDAN_DB__URL": db_url, "TIEPDAN_BROKER__URL": broker,
            "TIEPDAN_S3__BUCKET": bucket,
            **{f"TIEPDAN_S3__RETENTION_{k}_DAYS": "1"
               for k in ("MEDIA", "TRANSCRIPT", "MINUTES", "METADATA")},
        }  # fmt: skip
        settings: Settings = base.model_copy(
            update={"broker": base.broker.model_copy(update={"url": broker})}
        )
        engine = create_engine(db_url)
        await migrate(engine)
        db = session_factory(engine)
        session_id = await seed(db, manifest, room, started, minutes)
        app = create_celery(settings)
        app.conf.broker_connection_retry_on_startup = True
        with workers(worker_specs, env, work / "logs") as procs:
            await asyncio.to_thread(wait_for_workers, app, len(worker_specs))
            events = TaskEvents(app)
            await asyncio.sleep(1.0)  # the receiver's queue bound before the first event
            print(f"  workers up; load average {os.getloadavg()[0]:.1f}; session ended now",
                  flush=True)  # fmt: skip
            t0 = time.time()
            outcome = await run_pipeline(app, db, session_id, layout, procs, timeout_s, t0)
            wall = time.time() - t0
            await asyncio.sleep(1.0)  # the last events
            events.close()
        await report(db, session_id, events.runs, layout, t0, outcome, wall)
        await engine.dispose()
    return 0 if outcome.searchable_s is not None else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="the session's length")
    parser.add_argument(
        "--worker", action="append", default=None, metavar="ARGS",
        help="a `tiepdan worker` with these extra arguments (repeat for several; default: one "
        "worker with the command's defaults)",
    )  # fmt: skip
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to give up after")
    parser.add_argument("--audio", type=Path, default=AUDIO, help="where shared/audio is")
    args = parser.parse_args()
    sys.exit(asyncio.run(bench(args.minutes, args.worker or [""], args.timeout, args.audio)))


if __name__ == "__main__":
    main()
