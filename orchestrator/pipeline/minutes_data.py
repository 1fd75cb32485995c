"""The minutes' content gathered from the database: session, chair, attendance, transcript.

:func:`minutes_data` reads; :func:`assemble_minutes` (pure) decides what the minutes say.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from media.grants import ParticipantKind
from orchestrator.core.labels import participant_label
from orchestrator.core.timezone import VN_TZ
from orchestrator.db.models import (
    Attendance,
    Invitation,
    Province,
    ReceptionSession,
    RecordingRequest,
)
from transcription.merge import Transcript
from transcription.minutes import Attendee, ConnectionPointAttendance, MinutesData

# Hidden participants of ours (recorder, bridges, the speaker watch): never attendees.
_MACHINE_KINDS = {ParticipantKind.RECORDER.value, ParticipantKind.BRIDGE.value}
_MACHINE_PREFIXES = ("recorder", "bridge", "speaker-watch")


def _local(at: datetime | None) -> datetime | None:
    return at.astimezone(VN_TZ) if at else None


def assemble_minutes(
    session: ReceptionSession,
    *,
    province_name: str,
    clock_origin: datetime | None,
    invitations: Sequence[Invitation],
    stays: Sequence[Attendance],
    transcript: Transcript,
) -> MinutesData:
    """What the minutes say, from the session's rows (pure).

    Attendees are grouped by the connection point of their invitation, else by the one their
    speech was recorded under, else under the agency's own name; every connection point is
    listed, even one nobody joined from. Times are Vietnam time; the session clock (the
    transcript's zero) is when the recording was requested, else the scheduled start.
    """
    by_identity = {inv.identity: inv for inv in invitations}
    point_names = {cp.id: cp.name for cp in session.connection_points}
    spoken = {
        u.speaker.identity: (u.speaker.connection_point, u.speaker.role)
        for u in transcript.utterances
    }
    groups: dict[str, list[Attendee]] = defaultdict(list)
    for name in point_names.values():
        groups[name] = []
    left: list[datetime] = []
    for stay in sorted(stays, key=lambda s: (s.joined_at is None, s.joined_at, s.id)):
        invitation = by_identity.get(stay.identity)
        spoken_point, spoken_role = spoken.get(stay.identity, ("", ""))
        role = invitation.kind.value if invitation else spoken_role
        if role in _MACHINE_KINDS or stay.identity.startswith(_MACHINE_PREFIXES):
            continue
        invited_point = (
            point_names.get(invitation.connection_point_id, "")
            if invitation and invitation.connection_point_id is not None
            else ""
        )
        point = invited_point or spoken_point or session.agency.name
        if stay.left_at:
            left.append(stay.left_at)
        groups[point].append(
            Attendee(
                stay.display_name,
                participant_label(role) if role else "—",
                _local(stay.joined_at),
                _local(stay.left_at),
            )
        )
    starts = _local(clock_origin) or session.starts_at.astimezone(VN_TZ)
    return MinutesData(
        title=session.title,
        agency=session.agency.name,
        place=province_name,
        starts_at=starts,
        ends_at=_local(max(left, default=None)),
        chair=session.chair.display_name if session.chair else "",
        connection_points=tuple(
            ConnectionPointAttendance(name, tuple(people)) for name, people in groups.items()
        ),
        cases=(),  # no case records exist yet; the section is left out when there are none
        transcript=transcript,
    )


async def minutes_data(db: AsyncSession, session_id: int, transcript: Transcript) -> MinutesData:
    """Everything the session's minutes say (see :func:`assemble_minutes`)."""
    session = await db.get_one(ReceptionSession, session_id)
    province = await db.get(Province, session.agency.province_code)
    clock_origin = await db.scalar(
        select(RecordingRequest.requested_at).where(RecordingRequest.session_id == session_id)
    )
    invitations = await db.scalars(select(Invitation).where(Invitation.session_id == session_id))
    stays = await db.scalars(select(Attendance).where(Attendance.session_id == session_id))
    return assemble_minutes(
        session,
        province_name=province.name if province else session.agency.province_code,
        clock_origin=clock_origin,
        invitations=list(invitations),
        stays=list(stays),
        transcript=transcript,
    )
