"""Nothing stuck: a worker killed (SIGKILL, the whole worker) at each step of the pipeline, and the
broker's Redis restarted empty at each step, and every session is still archived exactly once,
its archive verified, within a bound of the pipeline's ``stale_after_s`` (short here).

Each test has its own database, Redis database and bucket, and its own orchestrator (in the
test's process, running the reconciler and its sweepers), and real `tiepdan worker` subprocesses
with the real Whisper model.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from media.agent import REQUEST_TIMEOUT
from media.assignments import AGENT_HEADER
from orchestrator.app import create_app
from orchestrator.core.vocabulary import SessionKind, SessionStatus, Tier
from orchestrator.db import create_engine, migrate, session_factory
from orchestrator.db.models import (
    Agency,
    ArchiveOutbox,
    PipelineOutbox,
    ProcessingTrack,
    ReceptionSession,
    RecordingRequest,
    SessionProcessing,
)
from orchestrator.live.session_end import send_started, start_pipeline
from storage import make_s3_client
from storage.archive import signing_key, verify_archive
from storage.records import is_manifest_key
from tests.databases import empty_database
from tests.integration.test_launch import eventually
from tests.integration.test_pipeline import worker
from tests.recording_fixtures import SpokenTrack, write_recording

STALE_S = 4  # pipeline.stale_after_s of this test's orchestrator and workers
BROKER_DB = 5  # away from the integration tests' (1, 3)
STEPS = ["transcribe", "merge", "mix", "minutes", "archive", "index"]


CHAIR = SpokenTrack("chair-1", "Lê Văn Chủ", "chair", "Ban TCD tỉnh Ninh Bình",
                    ((1.0, "The session is open."),))  # fmt: skip
# Transcribed for several times as long as the citizen's track: the premix is sent meanwhile.
LONG_CHAIR = SpokenTrack("chair-1", "Lê Văn Chủ", "chair", "Ban TCD tỉnh Ninh Bình",
                         ((1.0, "The session is open. Today we hear the citizens of the northern "
                                "district about the land compensation case, and every answer "
                                "will be written down in the minutes."),))  # fmt: skip
CITIZEN = SpokenTrack("citizen-2", "Trần Thị Bình", "citizen", "UBND xã Gia Viễn",
                      ((3.0, "Thank you for hearing me."),))  # fmt: skip


class BrokerLink:
    """The orchestrator's way to Redis, which a test can cut (``down``) and mend (``up``): a TCP
    relay on a port of its own. Workers reach Redis directly."""

    def __init__(self, redis_port: int) -> None:
        self.redis_port, self.port = redis_port, 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._open):
            writer.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.redis_port)
        self._open |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._open -= {writer, up_writer}


@dataclass
class Pipeline:
    """This test's orchestrator (served, its broker reached through ``link``), database and
    broker."""

    settings: Settings
    app: web.Application
    db: async_sessionmaker[AsyncSession]
    tmp_path: Path
    link: BrokerLink
    base_url: str

    def worker_env(self, **extra: str) -> dict[str, str]:
        return {
            "TIEPDAN_S3__BUCKET": self.settings.s3.bucket,
            "TIEPDAN_PIPELINE__STALE_AFTER_S": str(STALE_S),
            **extra,
        }

    async def flush_broker(self) -> None:
        """What a Redis restarted without persistence comes back with: nothing."""
        broker = aioredis.from_url(self.settings.broker.url)
        await broker.flushdb()
        await broker.aclose()


@pytest_asyncio.fixture
async def pipeline(
    request: pytest.FixtureRequest, local_stack: Settings, tmp_path: Path, unique_name: str
) -> AsyncIterator[Pipeline]:
    """Its database is of the backend the test names (``indirect``)."""
    broker_url = local_stack.broker.url.rsplit("/", 1)[0] + f"/{BROKER_DB}"
    async with empty_database(request.param, local_stack, tmp_path) as url:
        settings = local_stack.model_copy(
            update={
                "db": local_stack.db.model_copy(update={"url": url}),
                "broker": local_stack.broker.model_copy(update={"url": broker_url}),
                "s3": local_stack.s3.model_copy(update={"bucket": unique_name}),
                "pipeline": local_stack.pipeline.model_copy(update={"stale_after_s": STALE_S}),
            }
        )
        engine = await asyncio.to_thread(create_engine, url)
        await migrate(engine)
        link = BrokerLink(settings.broker.port)
        await link.up()
        linked = settings.broker.model_copy(
            update={"url": f"redis://127.0.0.1:{link.port}/{BROKER_DB}"}
        )
        # It adds its static files' directory, a blocking call: not on the loop.
        app = await asyncio.to_thread(
            create_app, settings.model_copy(update={"broker": linked}), reconcile_interval_s=1.0
        )
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        piped = Pipeline(
            settings, app, session_factory(engine), tmp_path, link, f"http://{host}:{port}"
        )
        await piped.flush_broker()
        try:
            yield piped
        finally:
            await runner.cleanup()
            await link.down()
            await engine.dispose()


async def ended_session_recorded(p: Pipeline, tracks: list[SpokenTrack]) -> tuple[int, Path]:
    """A session that has ended while its recorder (agent ``test``) finalizes ``tracks``; its
    manifest."""
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    room = f"faults-{uuid.uuid4().hex[:8]}"
    manifest = await asyncio.to_thread(
        write_recording, p.tmp_path / "recording", room, started, tracks
    )
    async with p.db() as db:
        agency = Agency(name="Ban Tiếp công dân tỉnh Ninh Bình", tier=Tier.PROVINCE,
                        province_code="ninh-binh")  # fmt: skip
        db.add(agency)
        await db.flush()
        session = ReceptionSession(
            title="Tiếp công dân (thử lỗi)", kind=SessionKind.PERIODIC, agency_id=agency.id,
            starts_at=started, ends_at=started + timedelta(hours=1), status=SessionStatus.ENDED,
            language="en", room_name=room,
        )  # fmt: skip
        db.add(session)
        await db.flush()
        lease = datetime.now(UTC) + timedelta(minutes=5)
        db.add(RecordingRequest(session_id=session.id, room_name=room, requested_at=started,
                                agent_id="test", lease_expires_at=lease))  # fmt: skip
        await db.commit()
        return session.id, manifest


async def end_recorded_session(p: Pipeline, tracks: list[SpokenTrack]) -> int:
    """A session that has just ended with a complete recording of ``tracks``: moved to
    ``processing`` and its pipeline sent, as the orchestrator does at a session's end."""
    session_id, manifest = await ended_session_recorded(p, tracks)
    async with p.db() as db:
        recording = await db.get(RecordingRequest, session_id)
        assert recording is not None
        recording.completed_at, recording.manifest_path = datetime.now(UTC), str(manifest)
        assert await start_pipeline(db, session_id)
        await db.commit()
    await send_started(p.app, session_id)
    return session_id


async def wait_for_death(proc_wait: asyncio.Future[int], step: str) -> None:
    rc = await asyncio.wait_for(proc_wait, 240)
    assert rc == -signal.SIGKILL, f"the worker was not killed at {step} (exit status {rc})"


async def assert_archived_once(p: Pipeline, session_id: int, timeout: float) -> SessionProcessing:
    """The session reaches ``archived`` and its index, with exactly one archive revision whose
    verification passes; its processing row."""
    t0 = time.monotonic()

    async def through() -> SessionProcessing | None:
        async with p.db() as db:
            s = await db.get(ReceptionSession, session_id)
            row = await db.get(SessionProcessing, session_id)
        assert s is not None and s.status is not SessionStatus.FAILED, s and s.status_reason
        # Through: archived, indexed, and no sweeper looks at it again.
        done = s.status is SessionStatus.ARCHIVED and row and "index" in row.steps_done
        return row if done and row.progress_at is None else None

    row = await eventually(through, timeout=timeout)
    assert row, f"session {session_id} was not archived and indexed within {timeout:.0f} s"
    print(f"archived and indexed {time.monotonic() - t0:.1f} s after the restart")

    def archive_state() -> tuple[list[str], bool]:
        client = make_s3_client(p.settings.s3)
        keys = [o.object_name for o in client.list_objects(p.settings.s3.bucket, recursive=True)]
        key = signing_key(p.settings).public_key()
        reports = verify_archive(client, p.settings.s3.bucket, key, session_id=session_id)
        return [k for k in keys if k and is_manifest_key(k)], bool(reports) and all(
            r.ok for r in reports
        )

    manifests, verified = await asyncio.to_thread(archive_state)
    assert len(manifests) == 1 and manifests[0].endswith("manifest-r1.json"), manifests
    assert verified
    async with p.db() as db:
        outbox = await db.get(ArchiveOutbox, session_id)
        tracks = (
            await db.scalars(
                select(ProcessingTrack).where(ProcessingTrack.session_id == session_id)
            )
        ).all()
    assert outbox is not None and outbox.state == "done" and outbox.manifest_key == manifests[0]
    # Every track transcribed, its transcript written once.
    assert tracks and all(t.state == "done" and t.completions == 1 for t in tracks)
    assert row.steps_done == ["transcribe", *STEPS[1:]]
    return row


@pytest.mark.parametrize("pipeline", ["postgresql"], indirect=True)
@pytest.mark.parametrize("step", STEPS)
async def test_worker_killed_at_each_step(pipeline: Pipeline, step: str) -> None:
    p = pipeline
    doomed_env = p.worker_env(TIEPDAN_FAULTS__KILL_AT=f'["pipeline.{step}"]')
    with worker(p.settings, p.tmp_path, f"doomed{uuid.uuid4().hex[:6]}", **doomed_env) as doomed:
        session_id = await end_recorded_session(p, [CHAIR])
        await wait_for_death(asyncio.create_task(asyncio.to_thread(doomed.wait)), step)
    with worker(p.settings, p.tmp_path, f"heir{uuid.uuid4().hex[:6]}", **p.worker_env()):
        # Redis would deliver the killed job again only after its visibility timeout (30 min):
        # the sweeper sends it again after STALE_S without progress.
        row = await assert_archived_once(p, session_id, timeout=180)
    assert row.redrives >= 1


@pytest.mark.parametrize("pipeline", ["postgresql"], indirect=True)
async def test_worker_killed_at_the_premix(pipeline: Pipeline) -> None:
    """The citizen's short track ends while the chair's long one runs (a worker runs a job per
    core: two here), and the premix it sends kills the worker mid-premix, its lock held, the
    chair's transcription with it: the lock dies with the worker, and nothing waits on it."""
    p = pipeline
    doomed_env = p.worker_env(TIEPDAN_FAULTS__KILL_AT='["pipeline.premix"]')
    with worker(p.settings, p.tmp_path, f"doomed{uuid.uuid4().hex[:6]}", **doomed_env) as doomed:
        session_id = await end_recorded_session(p, [LONG_CHAIR, CITIZEN])
        await wait_for_death(asyncio.create_task(asyncio.to_thread(doomed.wait)), "premix")
    with worker(p.settings, p.tmp_path, f"heir{uuid.uuid4().hex[:6]}", **p.worker_env()):
        row = await assert_archived_once(p, session_id, timeout=180)
    assert row.redrives >= 1


@pytest.mark.parametrize("pipeline", ["sqlite"], indirect=True)
@pytest.mark.parametrize("step", STEPS)
async def test_redis_restarted_empty_at_each_step(pipeline: Pipeline, step: str) -> None:
    """Two speakers (the tracks side by side, the merge after both: once a chord whose counter
    lived in Redis). The pipeline is stopped at ``step`` (its worker killed there), Redis comes
    back empty (the killed job, and anything queued, are gone), a new worker starts."""
    p = pipeline
    doomed_env = p.worker_env(TIEPDAN_FAULTS__KILL_AT=f'["pipeline.{step}"]')
    with worker(p.settings, p.tmp_path, f"doomed{uuid.uuid4().hex[:6]}", **doomed_env) as doomed:
        session_id = await end_recorded_session(p, [CHAIR, CITIZEN])
        await wait_for_death(asyncio.create_task(asyncio.to_thread(doomed.wait)), step)
    await p.flush_broker()
    with worker(p.settings, p.tmp_path, f"heir{uuid.uuid4().hex[:6]}", **p.worker_env()):
        row = await assert_archived_once(p, session_id, timeout=180)
    assert row.redrives >= 1


@pytest.mark.parametrize("pipeline", ["postgresql"], indirect=True)
async def test_redis_restarted_empty_before_the_start_was_received(pipeline: Pipeline) -> None:
    """The session's end was sent, and Redis restarted before any worker took it."""
    p = pipeline
    session_id = await end_recorded_session(p, [CHAIR])
    await p.flush_broker()
    with worker(p.settings, p.tmp_path, f"heir{uuid.uuid4().hex[:6]}", **p.worker_env()):
        await assert_archived_once(p, session_id, timeout=180)


@pytest.mark.parametrize("pipeline", ["postgresql"], indirect=True)
async def test_redis_down_when_the_recording_is_reported_complete(pipeline: Pipeline) -> None:
    """The recorder reports the recording complete while the orchestrator cannot reach Redis:
    the report is answered (the session's state has moved; an error would only make the agent
    report again what is already recorded), and the start is sent once Redis is back."""
    p = pipeline
    session_id, manifest = await ended_session_recorded(p, [CHAIR])
    await p.link.down()
    url = f"{p.base_url}/api/v1/media/recordings/{session_id}/complete"
    headers = {AGENT_HEADER: p.settings.security.media_agent_token}
    body = {"agent_id": "test", "manifest_path": str(manifest)}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        t0 = time.monotonic()
        async with http.post(url, json=body, headers=headers) as r:
            assert r.status == 200, await r.text()
            assert await r.json() == {"completed": True, "pipeline_started": True}
    answered_s = time.monotonic() - t0
    print(f"answered in {answered_s:.1f} s with Redis unreachable")
    assert answered_s < REQUEST_TIMEOUT.total, "answered after the agent had given up"
    async with p.db() as db:
        session = await db.get(ReceptionSession, session_id)
        outbox = await db.get(PipelineOutbox, session_id)
    assert session is not None and session.status is SessionStatus.PROCESSING
    assert outbox is not None and outbox.sent_at is None and outbox.last_error
    await p.link.up()
    with worker(p.settings, p.tmp_path, f"heir{uuid.uuid4().hex[:6]}", **p.worker_env()):
        await assert_archived_once(p, session_id, timeout=180)
