"""The wire protocol between the orchestrator and its media agents: what a heartbeat hands out
(recordings and bridges), shared by both sides of the lease API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# Media agents authenticate to the orchestrator with the deployment's agent token in this header.
AGENT_HEADER = "X-Tiepdan-Agent"


@dataclass(frozen=True)
class Assignment:
    """A room an agent records: where, since when (the session clock's anchor), still live?"""

    session_id: int
    room_name: str
    started_at: datetime
    live: bool


@dataclass(frozen=True)
class BridgeAssignment:
    """A bridge an agent runs: which rooms, who each side is shown as, is talk-back on?

    Attributes:
        bridge_id: the bridge's id.
        hub_room: the central hall's room (or a province's, for a commune session).
        hub_name: how the hub is shown in the session room.
        session_room: the bridged session's room.
        session_name: how the session's side is shown in the hub room (its province or commune).
        talk_back: whether the hub is heard in the session room.
        video: whether the session room's active speaker is also seen in the hub.
    """

    bridge_id: int
    hub_room: str
    hub_name: str
    session_room: str
    session_name: str
    talk_back: bool
    video: bool = False
