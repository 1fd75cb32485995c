"""The pipeline's archive step (``tiepdan.archive_session``): the session into the locked bucket.

Idempotent: a redelivered or duplicate job finds every object (and the manifest) already stored
and changes nothing; an interrupted one resumes. S3 errors are retried with backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import redis
from celery import Celery
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config import Settings
from orchestrator.core.lifecycle import move
from orchestrator.core.timezone import VN_TZ
from orchestrator.core.vocabulary import SessionStatus
from orchestrator.db.audit import audit
from orchestrator.db.locking import locked_session
from orchestrator.db.models import Agency, ArchiveOutbox, ReceptionSession, RecordingRequest
from orchestrator.pipeline import progress
from orchestrator.pipeline.integrity import archived_altered
from orchestrator.pipeline.progress import run_db, step_done
from orchestrator.pipeline.tasks import register_step, time_limits
from storage import make_s3_client
from storage.archive import SessionPlace, archive_directory, signing_key, verify_archive
from storage.errors import ArchiveError
from transcription.celery_app import RetryingTask, TaskName, send

__all__ = [
    "archive_session_job",
    "expected_in_archive",
    "province_chain_lock",
    "due_for_archive",
    "prune_spools",
    "register",
    "verify_archive_job",
]

log = logging.getLogger(__name__)

# Celery beat runs the full re-verification this often (seconds).
VERIFY_EVERY_S = 24 * 3600


async def _place(db: AsyncSession, session_id: int) -> tuple[SessionPlace, Path | None]:
    row = await db.get(ReceptionSession, session_id)
    if row is None:
        raise ArchiveError(f"session {session_id} does not exist", retryable=False)
    manifest_path = await db.scalar(
        select(RecordingRequest.manifest_path).where(RecordingRequest.session_id == session_id)
    )
    place = SessionPlace(
        session_id=session_id,
        province_code=row.agency.province_code,
        # The year a Vietnamese reader would file it under.
        year=row.starts_at.astimezone(VN_TZ).year,
        facts={
            "title": row.title,
            "agency": row.agency.name,
            "kind": str(row.kind),
            "starts_at": row.starts_at.isoformat(),
        },
        altered=await archived_altered(db, session_id),
    )
    return place, Path(manifest_path).parent if manifest_path else None


OUTBOX_PENDING, OUTBOX_RUNNING, OUTBOX_DONE = "pending", "running", "done"
# The periodic re-drive of failed archives runs this often. A job lost while it ran (its row
# left "running") is the pipeline sweeper's: the session is still processing.
REDRIVE_EVERY_S = 300
# Archived spool directories stay this long (for the index step, and a quick re-run).
SPOOL_KEEP = timedelta(days=1)


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failure: 30 s doubling, at most an hour."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


async def _claim(db: AsyncSession, session_id: int, now: datetime) -> None:
    """Mark the session's outbox row running, creating it on the first attempt (a session that
    had failed is processing again)."""
    await progress.resume(db, session_id)
    row = await db.get(ArchiveOutbox, session_id)
    if row is None:
        row = ArchiveOutbox(session_id=session_id, state=OUTBOX_PENDING, attempts=0)
        db.add(row)
    row.attempts += 1
    row.state, row.updated_at = OUTBOX_RUNNING, now


async def _done(db: AsyncSession, session_id: int, manifest_key: str, now: datetime) -> None:
    # The session's lock first, as _claim takes it (through progress.resume): an archive job
    # ending while another began took the two rows in opposite orders, and PostgreSQL ended one
    # of them as a deadlock (in the soak, failing the session).
    session = await locked_session(db, session_id)
    row = await db.get(ArchiveOutbox, session_id)
    assert row is not None
    row.state, row.manifest_key, row.updated_at = OUTBOX_DONE, manifest_key, now
    row.last_error = row.next_attempt_at = None
    if session is not None and session.status is not SessionStatus.ARCHIVED:
        move(session, SessionStatus.ARCHIVED)
    await step_done(db, session_id, "archive")
    await progress.finish_resumed(db, session_id)


async def _failed(db: AsyncSession, session_id: int, error: str, now: datetime) -> None:
    row = await db.get(ArchiveOutbox, session_id)
    assert row is not None
    row.state, row.last_error, row.updated_at = OUTBOX_PENDING, error[:2000], now
    row.next_attempt_at = now + backoff(row.attempts)


async def due_for_archive(db: AsyncSession, now: datetime) -> list[int]:
    """Sessions whose archive job failed and should run again: pending and due."""
    rows = await db.scalars(
        select(ArchiveOutbox.session_id).where(
            (ArchiveOutbox.state == OUTBOX_PENDING) & (ArchiveOutbox.next_attempt_at <= now)
        )
    )
    return sorted(rows)


# The lock expires if its holder dies; a worker waits this long for it before retrying later.
CHAIN_LOCK_TTL_S = 600
CHAIN_LOCK_WAIT_S = 300


@contextmanager
def province_chain_lock(settings: Settings, province_code: str) -> Iterator[None]:
    """Hold the province's archive chain, one worker at a time across every worker (a lock in
    the broker's Redis).

    Raises:
        ArchiveError: (retryable) the lock stayed taken for :data:`CHAIN_LOCK_WAIT_S`.
    """
    client = redis.Redis.from_url(settings.broker.url)
    lock = client.lock(
        f"tiepdan:archive-chain:{province_code}", timeout=CHAIN_LOCK_TTL_S,
        blocking_timeout=CHAIN_LOCK_WAIT_S,
    )  # fmt: skip
    try:
        if not lock.acquire():
            raise ArchiveError(
                f"the archive chain of {province_code} stayed locked {CHAIN_LOCK_WAIT_S} s",
                retryable=True,
            )
        try:
            yield
        finally:
            with suppress(redis.exceptions.LockError):  # expired: nothing left to release
                lock.release()
    finally:
        client.close()


def archive_session_job(settings: Settings, session_id: int) -> str:
    """Archive the session's directory and mark the session ``archived``.

    Returns:
        The key of the session's current manifest.
    """
    run_db(lambda db: _claim(db, session_id, datetime.now(UTC)))
    try:
        place, directory = run_db(lambda db: _place(db, session_id))
        if directory is None:
            raise ArchiveError(f"session {session_id} has no recording directory", retryable=False)
        # The index step still reads transcript.json: the spool is pruned later.
        manifest = archive_directory(
            make_s3_client(settings.s3), settings.s3, signing_key(settings), place, directory,
            delete_local=False, chain_lock=province_chain_lock(settings, place.province_code),
        )  # fmt: skip
    except Exception as e:
        error = repr(e)
        run_db(lambda db: _failed(db, session_id, error, datetime.now(UTC)))
        raise
    run_db(lambda db: _done(db, session_id, manifest.key, datetime.now(UTC)))
    if manifest.missing:
        log.warning("session %s archived without %s", session_id, ", ".join(manifest.missing))
    return manifest.key


# A session in one of these states, with a finished recording, has an archive or should have.
_ARCHIVE_DUE = (SessionStatus.PROCESSING, SessionStatus.ARCHIVED, SessionStatus.FAILED)


async def expected_in_archive(db: AsyncSession) -> dict[int, str]:
    """Every session that should have an archive, by id: its province code. ``verify`` reports
    the ones that have none (a pipeline stuck or lost), rather than leaving them out."""
    rows = await db.execute(
        select(ReceptionSession.id, Agency.province_code)
        .join(Agency, Agency.id == ReceptionSession.agency_id)
        .join(RecordingRequest, RecordingRequest.session_id == ReceptionSession.id)
        .where(
            ReceptionSession.status.in_(_ARCHIVE_DUE), RecordingRequest.manifest_path.is_not(None)
        )
    )
    return {row[0]: row[1] for row in rows}


async def _archived_long_ago(db: AsyncSession, before: datetime) -> list[int]:
    rows = await db.scalars(
        select(ArchiveOutbox.session_id).where(
            (ArchiveOutbox.state == OUTBOX_DONE) & (ArchiveOutbox.updated_at <= before)
        )
    )
    return sorted(rows)


def prune_spools(settings: Settings, now: datetime) -> list[int]:
    """Delete the local copies of sessions archived more than ``SPOOL_KEEP`` ago.

    Goes through :func:`archive_directory` again, so only files S3 holds with the manifest's
    SHA-256 are deleted (a file that changed meanwhile is archived as a revision first).

    Returns:
        The sessions whose spool directory was pruned.
    """
    pruned = []
    for session_id in run_db(lambda db: _archived_long_ago(db, now - SPOOL_KEEP)):
        place, directory = run_db(partial(_place, session_id=session_id))
        if directory is None or not directory.is_dir() or not any(directory.iterdir()):
            continue
        archive_directory(
            make_s3_client(settings.s3), settings.s3, signing_key(settings), place, directory
        )
        pruned.append(session_id)
    return pruned


def verify_archive_job(settings: Settings) -> int:
    """Re-verify the whole archive and record the outcome as audit rows.

    One ``archive.verify`` row per session with problems (outcome ``mismatch``, the problems in
    the detail), and one summary row (target ``archive``, outcome ``ok`` or ``mismatch``).

    Returns:
        The number of sessions with problems.
    """
    reports = verify_archive(
        make_s3_client(settings.s3), settings.s3.bucket, signing_key(settings).public_key(),
        expected=run_db(expected_in_archive),
    )  # fmt: skip
    bad = [r for r in reports if not r.ok]

    async def record(db: AsyncSession) -> None:
        for report in bad:
            audit(db, action="archive.verify", target=f"session:{report.session_id}",
                  outcome="mismatch", manifest=report.manifest_key,
                  problems=list(report.problems))  # fmt: skip
        audit(db, action="archive.verify", target="archive",
              outcome="mismatch" if bad else "ok", bucket=settings.s3.bucket,
              sessions=len(reports), mismatched=len(bad))  # fmt: skip

    run_db(record)
    if bad:
        log.error("archive verification: %d of %d session(s) mismatch", len(bad), len(reports))
    return len(bad)


def register(app: Celery, settings: Settings) -> None:
    """Register the archive's tasks on ``app``: ``tiepdan.archive_session`` (args
    ``[session_id]``), and the periodic re-verification and outbox re-drive that Celery beat runs.
    """
    soft, hard = time_limits(settings)
    register_step(
        app, settings, TaskName.ARCHIVE_SESSION, partial(archive_session_job, settings),
        soft_time_limit=soft, time_limit=hard,
    )  # fmt: skip

    def redrive_outbox() -> list[int]:
        due = run_db(lambda db: due_for_archive(db, datetime.now(UTC)))
        for session_id in due:
            send(app, TaskName.ARCHIVE_SESSION, session_id)
        prune_spools(settings, datetime.now(UTC))
        return due

    register_step(
        app, settings, TaskName.VERIFY_ARCHIVE, partial(verify_archive_job, settings),
        soft_time_limit=6 * 3600, time_limit=6 * 3600 + 60, base=RetryingTask,
    )  # fmt: skip
    register_step(
        app, settings, TaskName.ARCHIVE_OUTBOX, redrive_outbox, soft_time_limit=3600,
        time_limit=3700, base=RetryingTask,
    )  # fmt: skip
    app.conf.beat_schedule = {
        **(app.conf.beat_schedule or {}),
        "tiepdan-verify-archive": {
            "task": TaskName.VERIFY_ARCHIVE.value,
            "schedule": VERIFY_EVERY_S,
            "options": {"queue": TaskName.VERIFY_ARCHIVE.queue.value},
        },
        "tiepdan-archive-outbox": {
            "task": TaskName.ARCHIVE_OUTBOX.value,
            "schedule": REDRIVE_EVERY_S,
            "options": {"queue": TaskName.ARCHIVE_OUTBOX.queue.value},
        },
    }
