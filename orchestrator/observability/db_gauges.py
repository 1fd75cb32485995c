"""Gauges whose honest source is the database or the broker, computed when Prometheus scrapes
(and reused for ``metrics.cache_s``), so they cannot drift from what they count."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import String, and_, cast, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from orchestrator.core.vocabulary import SessionStatus
from orchestrator.db.models import (
    Agency,
    ArchiveOutbox,
    Attendance,
    AuditEntry,
    Bridge,
    Invitation,
    ReceptionSession,
    RecordingRequest,
    User,
)
from transcription import PUBLISHED_AT_HEADER, Queue


@dataclass(frozen=True)
class Snapshot:
    """One reading of everything the gauges report."""

    live_sessions: dict[str, int] = field(default_factory=dict)  # province → count
    participants: dict[tuple[str, str], int] = field(default_factory=dict)  # (role, province)
    recorders: dict[str, int] = field(default_factory=dict)  # lease state → count
    unrecorded_live_sessions: int = 0
    bridges: dict[str, int] = field(default_factory=dict)  # state → count
    outbox_backlog: int = 0
    outbox_oldest_s: float = 0.0
    verify_mismatched: int = 0
    verify_last_run: float = 0.0
    queue_depth: dict[str, int] = field(default_factory=dict)
    queue_oldest_s: dict[str, float] = field(default_factory=dict)


async def _database_part(db: AsyncSession, now: datetime) -> dict[str, Any]:
    live = ReceptionSession.status == SessionStatus.LIVE
    province = Agency.province_code
    sessions = await db.execute(
        select(province, func.count()).select_from(ReceptionSession).join(Agency)
        .where(live).group_by(province)
    )  # fmt: skip
    # A person joins under their invitation's identity or as ``user-<id>`` (staff).
    user_identity = literal("user-") + cast(User.id, String)
    participants = await db.execute(
        select(Invitation.kind, User.role, province, func.count())
        .select_from(Attendance)
        .join(ReceptionSession, ReceptionSession.id == Attendance.session_id)
        .join(Agency, Agency.id == ReceptionSession.agency_id)
        .outerjoin(Invitation, and_(Invitation.session_id == Attendance.session_id,
                                    Invitation.identity == Attendance.identity))
        .outerjoin(User, user_identity == Attendance.identity)
        .where(live, Attendance.joined_at.is_not(None), Attendance.left_at.is_(None))
        .group_by(Invitation.kind, User.role, province)
    )  # fmt: skip
    people: dict[tuple[str, str], int] = {}
    for kind, user_role, where, count in participants:
        key = (str(kind or user_role or "other"), str(where))
        people[key] = people.get(key, 0) + count
    held = RecordingRequest.held_at_clause(now)
    requests = await db.scalars(
        select(RecordingRequest).where(RecordingRequest.completed_at.is_(None))
    )
    recorders: dict[str, int] = {}
    for request in requests:
        state = "leased" if request.held_at(now) else "free"
        recorders[state] = recorders.get(state, 0) + 1
    # As the live board says it (live.recordings.recorder_state): a live session is recorded
    # while an agent holds its lease, or once its recording is complete.
    recorded = or_(held, RecordingRequest.completed_at.is_not(None))
    unrecorded = await db.scalar(
        select(func.count()).select_from(ReceptionSession).where(
            live, ~select(RecordingRequest.session_id)
            .where(RecordingRequest.session_id == ReceptionSession.id, recorded).exists()
        )
    )  # fmt: skip
    bridges = await db.execute(
        select(Bridge.running_at.is_not(None), func.count())
        .where(Bridge.ended_at.is_(None)).group_by(Bridge.running_at.is_not(None))
    )  # fmt: skip
    bridge_counts: dict[str, int] = {}
    for running, count in bridges:
        state = "running" if running else "waiting"
        bridge_counts[state] = bridge_counts.get(state, 0) + count
    backlog, oldest_end = (
        await db.execute(
            select(func.count(), func.min(ReceptionSession.ends_at))
            .select_from(ArchiveOutbox)
            .join(ReceptionSession)
            .where(ArchiveOutbox.state != "done")
        )  # fmt: skip
    ).one()
    verify = (
        await db.execute(
            select(AuditEntry.at, AuditEntry.detail)
            .where(AuditEntry.action == "archive.verify", AuditEntry.target == "archive")
            .order_by(AuditEntry.id.desc())
            .limit(1)
        )  # fmt: skip
    ).first()
    return {
        "live_sessions": {str(p): int(n) for p, n in sessions},
        "participants": people,
        "recorders": recorders,
        "unrecorded_live_sessions": unrecorded or 0,
        "bridges": bridge_counts,
        "outbox_backlog": backlog,
        "outbox_oldest_s": (now - oldest_end).total_seconds() if oldest_end and backlog else 0.0,
        "verify_mismatched": int(verify.detail.get("mismatched", 0)) if verify else 0,
        "verify_last_run": verify.at.timestamp() if verify else 0.0,
    }


async def _broker_part(broker: aioredis.Redis, now: float) -> dict[str, Any]:
    """Kombu's Redis transport keeps each queue as a list, newest pushed on the left."""
    depth: dict[str, int] = {}
    oldest: dict[str, float] = {}
    for queue in Queue:
        depth[queue.value] = await broker.llen(queue.value)
        tail = await broker.lindex(queue.value, -1)
        oldest[queue.value] = 0.0
        if tail is not None:
            headers = json.loads(tail).get("headers", {})
            if (published := headers.get(PUBLISHED_AT_HEADER)) is not None:
                oldest[queue.value] = max(0.0, now - float(published))
    return {"queue_depth": depth, "queue_oldest_s": oldest}


class DatabaseGauges(Collector):
    """The gauges of the last :meth:`refresh`; refreshed at most every ``cache_s``."""

    def __init__(
        self, db: async_sessionmaker[AsyncSession], broker: aioredis.Redis, cache_s: float
    ) -> None:
        self._db, self._broker, self._cache_s = db, broker, cache_s
        self._snapshot = Snapshot()
        self._taken = float("-inf")

    async def refresh(self) -> None:
        """Read the database and the broker again unless the last reading is fresh."""
        if time.monotonic() - self._taken < self._cache_s:
            return
        now = datetime.now(UTC)
        async with self._db() as db:
            part = await _database_part(db, now)
        part |= await _broker_part(self._broker, now.timestamp())
        self._snapshot = Snapshot(**part)
        self._taken = time.monotonic()

    def collect(self) -> Iterator[Metric]:
        s = self._snapshot
        live = GaugeMetricFamily(
            "tiepdan_live_sessions", "Sessions live now, by province.", labels=["province"]
        )
        for province, n in sorted(s.live_sessions.items()):
            live.add_metric([province], n)
        yield live
        people = GaugeMetricFamily(
            "tiepdan_live_participants",
            "People in a live session's room now, by role and province.",
            labels=["role", "province"],
        )
        for (role, province), n in sorted(s.participants.items()):
            people.add_metric([role, province], n)
        yield people
        yield _by_label("tiepdan_recordings", "Recordings not yet complete, by whether an agent "
                        "holds their lease (leased) or none does (free).", "state",
                        s.recorders, ("leased", "free"))  # fmt: skip
        yield GaugeMetricFamily(
            "tiepdan_live_sessions_unrecorded",
            "Live sessions no media agent holds a recording lease on: nobody records them.",
            value=s.unrecorded_live_sessions,
        )
        yield _by_label("tiepdan_bridge_links", "Bridges not ended, by state.", "state",
                        s.bridges, ("running", "waiting"))  # fmt: skip
        yield GaugeMetricFamily(
            "tiepdan_archive_outbox_backlog", "Sessions waiting to be archived.",
            value=s.outbox_backlog,
        )  # fmt: skip
        yield GaugeMetricFamily(
            "tiepdan_archive_outbox_oldest_seconds",
            "How long ago the oldest session waiting to be archived ended.",
            value=s.outbox_oldest_s,
        )
        yield GaugeMetricFamily(
            "tiepdan_archive_verify_mismatched_sessions",
            "Sessions whose archive did not verify at the last re-verification.",
            value=s.verify_mismatched,
        )
        yield GaugeMetricFamily(
            "tiepdan_archive_verify_last_run_timestamp_seconds",
            "When the archive was last re-verified (0: never).",
            value=s.verify_last_run,
        )
        yield _by_label("tiepdan_queue_depth", "Jobs waiting on a Celery queue.", "queue",
                        s.queue_depth, tuple(q.value for q in Queue))  # fmt: skip
        yield _by_label("tiepdan_queue_oldest_job_seconds",
                        "How long the oldest job waiting on a Celery queue has waited.", "queue",
                        s.queue_oldest_s, tuple(q.value for q in Queue))  # fmt: skip


def _by_label(
    name: str, doc: str, label: str, values: dict[str, Any], always: tuple[str, ...]
) -> GaugeMetricFamily:
    """A gauge with one series per value of ``label``, ``always`` present (as 0 when absent), so
    an alert on a series sees 0 rather than nothing."""
    family = GaugeMetricFamily(name, doc, labels=[label])
    for key in sorted({*always, *values}):
        family.add_metric([key], values.get(key, 0))
    return family
