"""LiveKit webhooks → attendance and session state, exactly once per event, in any order.

An event is read only as LiveKit sends it (``application/webhook+json``, UTF-8), applied only if
signed, and only if it was made lately (:data:`MAX_EVENT_AGE`: a signed event kept and replayed
later, or one delivered long after it happened, changes nothing the reconciler has already
settled); attendance is recorded only while the session's record is open (:data:`ATTENDANCE_OPEN`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Final

from livekit import api
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from media.speaker_watch import MONITOR_KIND
from orchestrator.core.errors import (
    BadRequest,
    Conflict,
    Unauthenticated,
    Unprocessable,
    UnsupportedMediaType,
)
from orchestrator.core.vocabulary import SessionStatus
from orchestrator.db.models import Attendance, ReceptionSession, WebhookEvent
from orchestrator.live.session_end import end_session, start_pipeline

log = logging.getLogger(__name__)

CONTENT_TYPE: Final = "application/webhook+json"
"""What LiveKit sends its webhooks as."""
MAX_EVENT_AGE: Final = timedelta(minutes=10)
"""How old an event may be when it arrives (LiveKit signs each delivery for 5 minutes)."""
MAX_CLOCK_SKEW: Final = timedelta(minutes=1)
"""How far in our future LiveKit's clock may put an event."""
ATTENDANCE_OPEN: Final = frozenset(
    {SessionStatus.LIVE, SessionStatus.ENDED, SessionStatus.PROCESSING}
)
"""Statuses in which a stay may still be recorded: a "left" may arrive after the session ended
and its pipeline started; an archived (or cancelled, failed) session's record is closed."""


def webhook_receiver(settings: Settings) -> api.WebhookReceiver:
    """Verifies the signature LiveKit puts in the Authorization header."""
    lk = settings.livekit
    return api.WebhookReceiver(api.TokenVerifier(lk.api_key, lk.api_secret.get_secret_value()))


def webhook_body(content_type: str, body: bytes) -> str:
    """The body as text, if it is what LiveKit sends.

    Raises:
        UnsupportedMediaType: another content type.
        BadRequest: not UTF-8.
    """
    if content_type != CONTENT_TYPE:
        raise UnsupportedMediaType(f"Webhook phải có kiểu nội dung {CONTENT_TYPE}.")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadRequest("Nội dung webhook không phải văn bản UTF-8.") from e


def parse_event(
    receiver: api.WebhookReceiver, body: str, auth: str, now: datetime
) -> api.WebhookEvent:
    """The verified event, made lately.

    Raises:
        Unauthenticated: forged, altered or unsigned.
        Unprocessable: made more than :data:`MAX_EVENT_AGE` before ``now`` (or without a time),
            or in the future.
    """
    try:
        event = receiver.receive(body, auth)
    except Exception as e:  # noqa: BLE001 - the SDK raises bare Exception for a bad signature
        raise Unauthenticated("Chữ ký webhook không hợp lệ.") from e
    made = datetime.fromtimestamp(event.created_at, UTC)
    if not now - MAX_EVENT_AGE <= made <= now + MAX_CLOCK_SKEW:
        raise Unprocessable(
            f"Sự kiện webhook lập lúc {made:%Y-%m-%d %H:%M:%S} UTC, quá xa thời điểm hiện tại "
            f"(chấp nhận trong vòng {MAX_EVENT_AGE.seconds // 60} phút)."
        )
    return event


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC) if seconds else datetime.now(UTC)


async def session_of_room(db: AsyncSession, room: str) -> ReceptionSession | None:
    """The session whose room this is."""
    return await db.scalar(select(ReceptionSession).where(ReceptionSession.room_name == room))


async def record_attendance(
    db: AsyncSession,
    session_id: int,
    *,
    sid: str,
    identity: str,
    name: str,
    joined_at: datetime | None = None,
    left_at: datetime | None = None,
) -> None:
    """Create or complete the attendance row of one participant stay (keyed by its sid)."""
    row = await db.scalar(
        select(Attendance).where(
            Attendance.session_id == session_id, Attendance.participant_sid == sid
        )
    )
    if row is None:
        row = Attendance(
            session_id=session_id, participant_sid=sid, identity=identity, display_name=name
        )
        db.add(row)
    # Out of order is fine: each event fills its own field, and only once.
    if joined_at is not None and row.joined_at is None:
        row.joined_at = joined_at
    if left_at is not None and row.left_at is None:
        row.left_at = left_at


async def apply_event(
    db_factory: async_sessionmaker[AsyncSession], event: api.WebhookEvent
) -> int | None:
    """Apply one verified event; return the id of a session whose pipeline it started (to send
    after the commit, :func:`~orchestrator.live.session_end.send_started`).

    A redelivered event (same id) changes nothing.
    """
    async with db_factory() as db:
        db.add(WebhookEvent(event_id=event.id, event=event.event))
        try:
            await db.flush()
        except IntegrityError:
            log.info("duplicate webhook %s ignored", event.id)
            return None
        session = await session_of_room(db, event.room.name) if event.room.name else None
        ended = None
        if session is None:
            log.info("webhook %s for unknown room %r", event.event, event.room.name)
        elif event.participant.attributes.get("kind") == MONITOR_KIND:
            pass  # the central dashboard's hidden speaker watch attends nothing
        elif (
            event.event in ("participant_joined", "participant_left")
            and session.status not in ATTENDANCE_OPEN
        ):
            raise Conflict(f"Phiên tiếp số {session.id} đã đóng hồ sơ; không ghi thêm người dự.")
        elif event.event == "participant_joined":
            p = event.participant
            await record_attendance(
                db, session.id, sid=p.sid, identity=p.identity, name=p.name,
                joined_at=_at(p.joined_at or event.created_at),
            )  # fmt: skip
        elif event.event == "participant_left":
            p = event.participant
            await record_attendance(
                db, session.id, sid=p.sid, identity=p.identity, name=p.name,
                left_at=_at(event.created_at),
            )  # fmt: skip
        elif (
            event.event == "room_finished"
            and await end_session(db, session.id, "room_finished")
            and await start_pipeline(db, session.id)
        ):
            ended = session.id
        await db.commit()
    return ended
