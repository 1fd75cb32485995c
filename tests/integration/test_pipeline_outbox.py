"""The pipeline's outbox: the orchestrator killed (SIGKILL) between the commit that ends a session
and the send that starts its pipeline, started again, and the session still reaches ``archived``
through the real pipeline (a `tiepdan worker` subprocess, the Whisper model, S3).

Its own orchestrator (a `tiepdan serve` subprocess), database, Redis database and bucket, so
that no other orchestrator's sweeper sends the start in its place.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import aiohttp
import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from orchestrator.core.vocabulary import SessionKind, SessionStatus
from orchestrator.db import create_engine, session_factory
from orchestrator.db.models import (
    Base,
    PipelineOutbox,
    ReceptionSession,
    RecordingRequest,
    SessionProcessing,
)
from orchestrator.live.session_end import COMMITTED
from tests.databases import empty_database
from tests.integration.test_launch import eventually
from tests.integration.test_pipeline import worker
from tests.recording_fixtures import SpokenTrack, write_recording
from tests.seeding import province_chair

M = TypeVar("M", bound=Base)
TIEPDAN = str(Path(sys.executable).parent / "tiepdan")
PORT = 18471  # away from the shared orchestrator (8470) and the CLI test's (18470)
BROKER_DB = 3  # the test world's orchestrator uses 1
CHAIR = SpokenTrack(
    "chair-1", "Lê Văn Chủ", "chair", "Ban TCD tỉnh Ninh Bình",
    ((1.0, "The reception session is now open, and every answer will be written down."),),
)  # fmt: skip


@pytest_asyncio.fixture(params=["sqlite", "postgresql"])
async def own_settings(
    request: pytest.FixtureRequest, local_stack: Settings, tmp_path: Path, unique_name: str
) -> AsyncIterator[Settings]:
    """The local stack with a fresh database of each backend, a Redis database and a bucket of
    this test's own."""
    broker_url = local_stack.broker.url.rsplit("/", 1)[0] + f"/{BROKER_DB}"
    broker = aioredis.from_url(broker_url)
    await broker.flushdb()
    await broker.aclose()
    async with empty_database(request.param, local_stack, tmp_path) as url:
        yield local_stack.model_copy(
            update={
                "db": local_stack.db.model_copy(update={"url": url}),
                "broker": local_stack.broker.model_copy(update={"url": broker_url}),
                "s3": local_stack.s3.model_copy(update={"bucket": unique_name}),
                "web": local_stack.web.model_copy(
                    update={"port": PORT, "public_url": f"http://127.0.0.1:{PORT}"}
                ),
            }
        )


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "TIEPDAN_PATHS__STATE_DIR": str(settings.paths.state_dir),
        "TIEPDAN_DB__URL": settings.db.url,
        "TIEPDAN_BROKER__URL": settings.broker.url,
        "TIEPDAN_S3__BUCKET": settings.s3.bucket,
        "TIEPDAN_WEB__PORT": str(settings.web.port),
        "TIEPDAN_WEB__PUBLIC_URL": settings.web.public_url,
        **extra,
    }


@contextmanager
def orchestrator(
    settings: Settings, tmp_path: Path, name: str, **env: str
) -> Iterator[subprocess.Popen[bytes]]:
    """A `tiepdan serve` subprocess on ``settings``; stopped at the end if still running."""
    with (tmp_path / f"{name}.log").open("w") as log:
        proc = subprocess.Popen([TIEPDAN, "serve"], env=_env(settings, **env), stdout=log,
                                stderr=subprocess.STDOUT)  # fmt: skip
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)


async def answering(http: aiohttp.ClientSession, proc: subprocess.Popen[bytes]) -> None:
    """Wait until the orchestrator answers (it has migrated its database by then)."""

    async def up() -> bool:
        assert proc.poll() is None, "the orchestrator exited while starting"
        try:
            async with http.get(f"http://127.0.0.1:{PORT}/api/v1/openapi.json") as r:
                return r.status == 200
        except aiohttp.ClientConnectionError:
            return False

    assert await eventually(up, timeout=60), "the orchestrator did not start"


async def live_recorded_session(
    db: async_sessionmaker[AsyncSession], directory: Path
) -> tuple[int, str]:
    """A live session whose recording is already complete, and its chair's API token."""
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    room = f"outbox-{uuid.uuid4().hex[:8]}"
    manifest = await asyncio.to_thread(write_recording, directory, room, started, [CHAIR])
    async with db() as s:
        agency, chair, token = await province_chair(
            s, "Ban Tiếp công dân tỉnh Ninh Bình", "chair.outbox", "Lê Văn Chủ",
            "mat-khau-thu-nghiem",
        )  # fmt: skip
        session = ReceptionSession(
            title="Tiếp công dân (thử outbox)", kind=SessionKind.PERIODIC, agency_id=agency.id,
            chair_id=chair.id, starts_at=started, ends_at=started + timedelta(hours=1),
            status=SessionStatus.LIVE, language="en",
        )  # fmt: skip
        s.add(session)
        await s.flush()
        s.add(RecordingRequest(session_id=session.id, room_name=room, requested_at=started,
                               agent_id="test", completed_at=datetime.now(UTC),
                               manifest_path=str(manifest)))  # fmt: skip
        await s.commit()
        return session.id, token


async def test_killed_between_commit_and_send_the_session_is_still_archived(
    own_settings: Settings, tmp_path: Path
) -> None:
    settings = own_settings
    engine = await asyncio.to_thread(create_engine, settings.db.url)  # it resolves a SQLite path
    db = session_factory(engine)

    async def row(model: type[M], key: int) -> M:
        async with db() as s:
            found: M | None = await s.get(model, key)
        assert found is not None
        return found

    try:
        async with aiohttp.ClientSession() as http:
            with orchestrator(settings, tmp_path, "doomed",
                              TIEPDAN_FAULTS__KILL_AT=f'["{COMMITTED}"]') as doomed:  # fmt: skip
                await answering(http, doomed)
                session_id, token = await live_recorded_session(db, tmp_path / "recording")
                # The chair ends it (or the reconciler, finding no room, does so first: the same
                # commit, then the same send).
                url = f"http://127.0.0.1:{PORT}/api/v1/sessions/{session_id}/end"
                with pytest.raises(aiohttp.ClientConnectionError):
                    await http.post(url, headers={"Authorization": f"Bearer {token}"})
                assert await asyncio.to_thread(doomed.wait, 30) == -signal.SIGKILL

            # Committed, never sent: the session waits in processing with no job.
            assert (await row(ReceptionSession, session_id)).status is SessionStatus.PROCESSING
            outbox = await row(PipelineOutbox, session_id)
            assert (outbox.sent_at, outbox.sends, outbox.acked_at) == (None, 0, None)
            broker = aioredis.from_url(settings.broker.url)
            assert await broker.llen("transcribe") == 0
            await broker.aclose()

            with (
                worker(settings, tmp_path, f"outbox{uuid.uuid4().hex[:6]}",
                       TIEPDAN_S3__BUCKET=settings.s3.bucket),
                orchestrator(settings, tmp_path, "heir") as heir,
            ):  # fmt: skip
                await answering(http, heir)

                async def archived() -> bool:
                    s = await row(ReceptionSession, session_id)
                    assert s.status is not SessionStatus.FAILED, s.status_reason
                    return s.status is SessionStatus.ARCHIVED

                assert await eventually(archived, timeout=240), "the session was not archived"
        outbox = await row(PipelineOutbox, session_id)
        # Sent once, by the sweeper of the restarted orchestrator, and acknowledged.
        assert outbox.sends == 1 and outbox.sent_at and outbox.acked_at
        processing = await row(SessionProcessing, session_id)
        assert processing.state == "done"
        assert processing.steps_done[:5] == ["transcribe", "merge", "mix", "minutes", "archive"]
    finally:
        await engine.dispose()
