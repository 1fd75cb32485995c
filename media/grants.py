"""What each kind of LiveKit participant may do in a session's room.

One table, :data:`GRANTS`, decides it; tokens are minted from it by :func:`video_grants`, which
sets every field of :class:`livekit.api.VideoGrants` explicitly, because livekit-api defaults
``can_publish`` and ``can_subscribe`` to ``True``: a forgotten field would let an observer or the
recorder speak into a reception session.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from livekit.api import VideoGrants

# LiveKit's names for track sources, as VideoGrants.can_publish_sources wants them.
CAMERA = "camera"
MICROPHONE = "microphone"
SCREEN_SHARE = "screen_share"
SCREEN_SHARE_AUDIO = "screen_share_audio"


class ParticipantKind(StrEnum):
    """Who a LiveKit participant is, which decides its grants (:data:`GRANTS`)."""

    OFFICER = "officer"
    CHAIR = "chair"
    CITIZEN = "citizen"
    CONNECTION_POINT = "connection_point"
    CENTRAL_OBSERVER = "central_observer"
    RECORDER = "recorder"
    BRIDGE = "bridge"


@dataclass(frozen=True)
class Grant:
    """A participant's permissions inside one room.

    Attributes:
        can_publish: may publish any track at all.
        can_subscribe: may receive others' tracks.
        can_publish_data: may send data messages (chat, ask-to-speak requests).
        hidden: invisible to the other participants.
        can_publish_sources: the only track sources it may publish; ``None`` would mean any
            source, so every entry of the table names them.
        can_update_own_metadata: may change its own name and metadata (never: the identity shown
            to the room is the one the orchestrator checked).
    """

    can_publish: bool
    can_subscribe: bool
    can_publish_data: bool
    hidden: bool
    can_publish_sources: tuple[str, ...] | None
    can_update_own_metadata: bool


def _grant(sources: tuple[str, ...], *, data: bool, hidden: bool) -> Grant:
    """A table entry: what the participant may publish, data messages, and whether it is seen.

    It publishes when it has any source, always subscribes (every participant hears the room),
    and never changes its own metadata.
    """
    return Grant(
        can_publish=bool(sources),
        can_subscribe=True,
        can_publish_data=data,
        hidden=hidden,
        can_publish_sources=sources,
        can_update_own_metadata=False,
    )


_STAFF = _grant((CAMERA, MICROPHONE, SCREEN_SHARE, SCREEN_SHARE_AUDIO), data=True, hidden=False)
# Citizens and connection points show themselves and speak; sharing a screen is for staff.
_SPEAKER = _grant((CAMERA, MICROPHONE), data=True, hidden=False)

GRANTS: Mapping[ParticipantKind, Grant] = MappingProxyType(
    {
        ParticipantKind.OFFICER: _STAFF,
        ParticipantKind.CHAIR: _STAFF,
        ParticipantKind.CITIZEN: _SPEAKER,
        ParticipantKind.CONNECTION_POINT: _SPEAKER,
        # Listens unseen; data stays open so that the ask-to-speak request can reach the chair.
        ParticipantKind.CENTRAL_OBSERVER: _grant((), data=True, hidden=True),
        ParticipantKind.RECORDER: _grant((), data=False, hidden=True),
        # A central hall bridged into a provincial session: seen and heard like a connection point.
        ParticipantKind.BRIDGE: _grant((MICROPHONE, CAMERA), data=False, hidden=False),
    }
)


def grant_for(kind: ParticipantKind) -> Grant:
    """Return the permissions of a participant of ``kind``."""
    return GRANTS[kind]


def promoted_observer_grant() -> Grant:
    """Return a central observer's permissions once the chair has approved its request to speak.

    It becomes visible and may use its microphone, nothing more: no camera, no screen.
    """
    return _grant((MICROPHONE,), data=True, hidden=False)


def video_grants(kind: ParticipantKind, room: str) -> VideoGrants:
    """Build the LiveKit token grants for a participant of ``kind`` joining ``room``.

    Args:
        kind: who the participant is.
        room: the room's name.

    Returns:
        Grants with every field set: room-join to ``room`` only, no administrative rights.
    """
    grant = grant_for(kind)
    sources = grant.can_publish_sources
    return VideoGrants(
        room_create=False,
        room_list=False,
        room_record=False,
        room_admin=False,
        room_join=True,
        room=room,
        destination_room=None,  # never forwarded to another room
        can_publish=grant.can_publish,
        can_subscribe=grant.can_subscribe,
        can_publish_data=grant.can_publish_data,
        can_publish_sources=None if sources is None else list(sources),
        can_update_own_metadata=grant.can_update_own_metadata,
        ingress_admin=False,
        hidden=grant.hidden,
        recorder=False,  # deprecated in LiveKit; the recorder is kept out of view by `hidden`
        agent=False,
        can_manage_agent_session=False,
        can_subscribe_metrics=False,
    )
