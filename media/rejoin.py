"""When a participant of ours (the recorder, a voice bot) joins its room again by itself.

The SDK reconnects on its own for a while; when LiveKit is away longer (a restart), it gives up
with ``UNKNOWN_REASON`` and the room may be missing until the orchestrator recreates it. A
participant sent away on purpose (it left, another took its identity, it was removed, the room
was closed) stays out.

After a join, and after the SDK's own full reconnect, the tracks the room already has are not
announced by ``track_published``: a participant that subscribes by hand (``auto_subscribe`` off)
goes through :func:`published` then.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from livekit import rtc

# Seconds between two tries to join again.
REJOIN_INTERVAL_S: Final = 2.0

_SENT_AWAY: Final = frozenset(
    {
        rtc.DisconnectReason.CLIENT_INITIATED,
        rtc.DisconnectReason.DUPLICATE_IDENTITY,
        rtc.DisconnectReason.PARTICIPANT_REMOVED,
        rtc.DisconnectReason.ROOM_DELETED,
        rtc.DisconnectReason.ROOM_CLOSED,
    }
)


def should_rejoin(reason: object) -> bool:
    """Whether a participant disconnected for ``reason`` (a ``DisconnectReason``) should come
    back: yes when its connection was lost, no when it was sent away."""
    return reason not in _SENT_AWAY


def published(room: rtc.Room) -> Iterator[tuple[rtc.RemoteTrackPublication, rtc.RemoteParticipant]]:
    """Every track the other participants of ``room`` publish now, with its publisher."""
    for participant in room.remote_participants.values():
        for publication in participant.track_publications.values():
            yield publication, participant
