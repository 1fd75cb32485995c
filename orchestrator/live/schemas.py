"""Bodies of the live stage's API: attendance, the media agents' heartbeat and recording reports,
and the central observers' bridges, requests to speak and live dashboard."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from media.assignments import BridgeAssignment
from orchestrator.core.vocabulary import RecorderState
from orchestrator.web.bodies import RequestBody, RowId

ROOM_NAME = r"^[a-z0-9][a-z0-9-]{0,99}$"


class BridgeCreate(RequestBody):
    """Bridge a live session's room into a hub room (the central hall's connection point).

    ``exclusive`` (with ``talk_back``): switch talk-back off on the hub's other bridges, so the
    hall talks to one session at a time while it listens to several.
    """

    central_room: str = Field(pattern=ROOM_NAME)
    session_id: RowId
    video: bool = False
    talk_back: bool = False
    exclusive: bool = True


class BridgeUpdate(RequestBody):
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


class ListenOut(BaseModel):
    """A hidden, listen-only LiveKit token for a live session's room."""

    livekit_url: str
    room: str
    identity: str
    token: str


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


class AttendanceOut(BaseModel):
    """One stay of a participant in the room."""

    identity: str
    display_name: str
    joined_at: datetime | None
    left_at: datetime | None


class AgentHeartbeat(RequestBody):
    """A media agent's periodic report: who it is and how many rooms it can record."""

    agent_id: str = Field(min_length=1, max_length=100)
    capacity: int = Field(default=50, ge=0, le=10_000)
    # Bridges whose both sides are in their rooms now (see orchestrator.live.bridges).
    bridges_running: list[RowId] = Field(default_factory=list, max_length=10_000)


class AgentRelease(RequestBody):
    """A media agent shutting down hands back every lease it holds."""

    agent_id: str = Field(min_length=1, max_length=100)


class ReleaseOut(BaseModel):
    """How many leases were handed back, of recordings and of bridges."""

    recordings: int
    bridges: int


class AssignmentOut(BaseModel):
    """A room the agent must record (until ``live`` turns false: then finalize)."""

    session_id: int
    room_name: str
    started_at: datetime
    live: bool


class HeartbeatOut(BaseModel):
    """The agent's current assignments; a room missing from here is no longer its to record."""

    assignments: list[AssignmentOut]
    lease_seconds: float
    bridges: list[BridgeAssignment] = Field(default_factory=list)


class RecorderOut(BaseModel):
    """Whether a session is being recorded. ``no_recorder`` while it is live means nothing
    records it: every media agent is full (or none runs), and it waits for a free one."""

    session_id: int
    state: RecorderState
    label: str
    agent_id: str | None
    requested_at: datetime | None


class RecordingComplete(RequestBody):
    """The recorder finalized a session's recording."""

    agent_id: str = Field(min_length=1, max_length=100)
    manifest_path: str = Field(min_length=1, max_length=500)


class RecordingCompleteOut(BaseModel):
    """Whether this report completed the recording, and whether it started the pipeline."""

    completed: bool
    pipeline_started: bool
