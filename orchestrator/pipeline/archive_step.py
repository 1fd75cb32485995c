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
from celery import Celery, Task
from minio.error import MinioException
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from urllib3.exceptions import HTTPError

from config import Settings, load_settings
from orchestrator.core.timezone import VN_TZ
from orchestrator.core.vocabulary import SessionStatus
from orchestrator.db.audit import audit
from orchestrator.db.models import ArchiveOutbox, ReceptionSession, RecordingRequest
from orchestrator.pipeline.progress import run_db, step_done
from storage import make_s3_client
from storage.archive import SessionPlace, archive_directory, signing_key, verify_archive
from storage.errors import ArchiveError

__all__ = [
    "ARCHIVE_SESSION_TASK",
    "VERIFY_ARCHIVE_TASK",
    "archive_session_job",
    "province_chain_lock",
    "due_for_archive",
    "prune_spools",
    "register",
    "verify_archive_job",
]

log = logging.getLogger(__name__)

ARCHIVE_SESSION_TASK = "tiepdan.archive_session"
VERIFY_ARCHIVE_TASK = "tiepdan.verify_archive"
REDRIVE_OUTBOX_TASK = "tiepdan.archive_outbox"
ARCHIVE_QUEUE = "archive"
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
    )
    return place, Path(manifest_path).parent if manifest_path else None


OUTBOX_PENDING, OUTBOX_RUNNING, OUTBOX_DONE = "pending", "running", "done"
# The periodic re-drive runs this often; a "running" row older than STALE is a lost job.
REDRIVE_EVERY_S = 300
STALE = timedelta(hours=2)
# Archived spool directories stay this long (for the index step, and a quick re-run).
SPOOL_KEEP = timedelta(days=1)


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failure: 30 s doubling, at most an hour."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


async def _claim(db: AsyncSession, session_id: int, now: datetime) -> None:
    """Mark the session's outbox row running, creating it on the first attempt."""
    row = await db.get(ArchiveOutbox, session_id)
    if row is None:
        row = ArchiveOutbox(session_id=session_id, state=OUTBOX_PENDING, attempts=0)
        db.add(row)
    row.attempts += 1
    row.state, row.updated_at = OUTBOX_RUNNING, now


async def _done(db: AsyncSession, session_id: int, manifest_key: str, now: datetime) -> None:
    row = await db.get(ArchiveOutbox, session_id)
    assert row is not None
    row.state, row.manifest_key, row.updated_at = OUTBOX_DONE, manifest_key, now
    row.last_error = row.next_attempt_at = None
    session = await db.get(ReceptionSession, session_id)
    if session is not None and session.status != SessionStatus.ARCHIVED:
        session.status = SessionStatus.ARCHIVED
    await step_done(db, session_id, "archive")


async def _failed(db: AsyncSession, session_id: int, error: str, now: datetime) -> None:
    row = await db.get(ArchiveOutbox, session_id)
    assert row is not None
    row.state, row.last_error, row.updated_at = OUTBOX_PENDING, error[:2000], now
    row.next_attempt_at = now + backoff(row.attempts)


async def due_for_archive(db: AsyncSession, now: datetime) -> list[int]:
    """Sessions whose archive job should run again: pending and due, or running but lost."""
    rows = await db.scalars(
        select(ArchiveOutbox.session_id).where(
            or_(
                (ArchiveOutbox.state == OUTBOX_PENDING) & (ArchiveOutbox.next_attempt_at <= now),
                (ArchiveOutbox.state == OUTBOX_RUNNING) & (ArchiveOutbox.updated_at <= now - STALE),
            )
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
    run_db(settings, lambda db: _claim(db, session_id, datetime.now(UTC)))
    try:
        place, directory = run_db(settings, lambda db: _place(db, session_id))
        if directory is None:
            raise ArchiveError(f"session {session_id} has no recording directory", retryable=False)
        # The index step still reads transcript.json: the spool is pruned later.
        manifest = archive_directory(
            make_s3_client(settings.s3), settings.s3, signing_key(settings), place, directory,
            delete_local=False, chain_lock=province_chain_lock(settings, place.province_code),
        )  # fmt: skip
    except Exception as e:
        error = repr(e)
        run_db(settings, lambda db: _failed(db, session_id, error, datetime.now(UTC)))
        raise
    run_db(settings, lambda db: _done(db, session_id, manifest.key, datetime.now(UTC)))
    if manifest.missing:
        log.warning("session %s archived without %s", session_id, ", ".join(manifest.missing))
    return manifest.key


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
    for session_id in run_db(settings, lambda db: _archived_long_ago(db, now - SPOOL_KEEP)):
        place, directory = run_db(settings, partial(_place, session_id=session_id))
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
        make_s3_client(settings.s3), settings.s3.bucket, signing_key(settings).public_key()
    )
    bad = [r for r in reports if not r.ok]

    async def record(db: AsyncSession) -> None:
        for report in bad:
            audit(db, action="archive.verify", target=f"session:{report.session_id}",
                  outcome="mismatch", manifest=report.manifest_key,
                  problems=list(report.problems))  # fmt: skip
        audit(db, action="archive.verify", target="archive",
              outcome="mismatch" if bad else "ok", bucket=settings.s3.bucket,
              sessions=len(reports), mismatched=len(bad))  # fmt: skip

    run_db(settings, record)
    if bad:
        log.error("archive verification: %d of %d session(s) mismatch", len(bad), len(reports))
    return len(bad)


def register(app: Celery, settings: Settings | None = None) -> None:
    """Register ``tiepdan.archive_session`` (args ``[session_id]``) on ``app``.

    ``settings`` are those of the worker; when not given, they are loaded once, on first use.
    """
    loaded: list[Settings] = [settings] if settings is not None else []

    @app.task(  # type: ignore[untyped-decorator]
        name=ARCHIVE_SESSION_TASK,
        bind=True,
        acks_late=True,
        task_reject_on_worker_lost=True,
        # S3 unreachable or refusing: try again later (exponential backoff, up to ~1 h).
        autoretry_for=(MinioException, HTTPError, OSError),
        retry_backoff=5,
        retry_backoff_max=600,
        max_retries=12,
        soft_time_limit=3600,
        time_limit=3700,
    )
    def archive_session(task: Task, session_id: int) -> str:
        if not loaded:
            loaded.append(load_settings(None))
        try:
            return archive_session_job(loaded[0], session_id)
        except ArchiveError as e:
            if e.retryable:
                raise task.retry(exc=e, countdown=30) from e
            raise

    @app.task(name=VERIFY_ARCHIVE_TASK, acks_late=True, soft_time_limit=6 * 3600,  # type: ignore[untyped-decorator]
              time_limit=6 * 3600 + 60)  # fmt: skip
    def verify_archive_task() -> int:
        if not loaded:
            loaded.append(load_settings(None))
        return verify_archive_job(loaded[0])

    @app.task(name=REDRIVE_OUTBOX_TASK, acks_late=True)  # type: ignore[untyped-decorator]
    def redrive_outbox_task() -> list[int]:
        if not loaded:
            loaded.append(load_settings(None))
        due = run_db(loaded[0], lambda db: due_for_archive(db, datetime.now(UTC)))
        for session_id in due:
            app.send_task(ARCHIVE_SESSION_TASK, args=[session_id], queue=ARCHIVE_QUEUE)
        prune_spools(loaded[0], datetime.now(UTC))
        return due

    app.conf.beat_schedule = {
        **(app.conf.beat_schedule or {}),
        "tiepdan-verify-archive": {
            "task": VERIFY_ARCHIVE_TASK,
            "schedule": VERIFY_EVERY_S,
            "options": {"queue": ARCHIVE_QUEUE},
        },
        "tiepdan-archive-outbox": {
            "task": REDRIVE_OUTBOX_TASK,
            "schedule": REDRIVE_EVERY_S,
            "options": {"queue": ARCHIVE_QUEUE},
        },
    }
