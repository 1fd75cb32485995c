"""When a participant of ours (the recorder, a voice bot) joins its room again by itself.

The SDK reconnects on its own for a while; when LiveKit is away longer (a restart), it gives up
with ``UNKNOWN_REASON`` and the room may be missing until the orchestrator recreates it. A
participant sent away on purpose (it left, another took its identity, it was removed, the room
was closed) stays out.
"""

from __future__ import annotations

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
