"""Bodies of the central observers' API: bridges, requests to speak, the live dashboard."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


ROOM_NAME = r"^[a-z0-9][a-z0-9-]{0,99}$"


class BridgeCreate(_Body):
    """Bridge a live session's room into a hub room (the central hall's connection point).

    ``exclusive`` (with ``talk_back``): switch talk-back off on the hub's other bridges, so the
    hall talks to one session at a time while it listens to several.
    """

    central_room: str = Field(pattern=ROOM_NAME)
    session_id: int
    video: bool = False
    talk_back: bool = False
    exclusive: bool = True


class BridgeUpdate(_Body):
    """Talk-back on or off for one bridge."""

    talk_back: bool
    exclusive: bool = True


class BridgeState(StrEnum):
    """``waiting`` for a media agent, ``running`` (both sides in their rooms), or ``ended``."""

    WAITING = "waiting"
    RUNNING = "running"
    ENDED = "ended"


class BridgeOut(BaseModel):
    """A bridge as the API and the dashboard show it."""

    id: int
    session_id: int
    central_room: str
    session_room: str
    hub_name: str
    session_name: str
    video: bool
    talk_back: bool
    state: BridgeState
    created_at: datetime
    ended_at: datetime | None
    end_reason: str | None


class SpeakRequestOut(BaseModel):
    """A central observer's request to speak in a session."""

    id: int
    session_id: int
    user_id: int
    display_name: str
    identity: str
    state: str
    requested_at: datetime
    decided_at: datetime | None
