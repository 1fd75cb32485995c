"""Request and response bodies of the JSON API (pydantic), also the OpenAPI components."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from media.bridge import BridgeAssignment
from orchestrator.domain import ParticipantKind, Role, SessionKind, SessionStatus, Tier
from orchestrator.timezone import VN_TZ


def _aware(value: datetime) -> datetime:
    # A time without offset is Vietnam's wall clock: that is what officers type.
    return value.replace(tzinfo=VN_TZ) if value.tzinfo is None else value


VnDateTime = Annotated[datetime, AfterValidator(_aware)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ConnectionPointIn(_Body):
    """A connection point (điểm cầu) to create with a session."""

    name: str = Field(min_length=1, max_length=200)
    tier: Tier
    agency_id: int | None = None


class SessionCreate(_Body):
    """A new session; with ``rrule`` a series, one session per occurrence."""

    title: str = Field(min_length=1, max_length=300)
    kind: SessionKind = SessionKind.PERIODIC
    agency_id: int
    chair_id: int | None = None
    starts_at: VnDateTime
    ends_at: VnDateTime
    restricted: bool = False
    approval_ref: str | None = Field(default=None, max_length=200)
    language: str = Field(default="vi", pattern=r"^[a-z]{2,3}$")
    rrule: str | None = Field(default=None, max_length=500)
    exdates: list[VnDateTime] = Field(default_factory=list, max_length=500)
    connection_points: list[ConnectionPointIn] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _end_after_start(self) -> SessionCreate:
        if self.ends_at <= self.starts_at:
            raise ValueError("giờ kết thúc phải sau giờ bắt đầu")
        return self


class SessionUpdate(_Body):
    """Fields to change on one session; absent fields stay as they are."""

    title: str | None = Field(default=None, min_length=1, max_length=300)
    chair_id: int | None = None
    starts_at: VnDateTime | None = None
    ends_at: VnDateTime | None = None
    approval_ref: str | None = Field(default=None, max_length=200)
    restricted: bool | None = None


class CancelRequest(_Body):
    """Why a session is cancelled."""

    reason: str = Field(min_length=1, max_length=500)


class ConnectionPointOut(BaseModel):
    """A connection point of a session."""

    id: int
    name: str
    tier: Tier
    agency_id: int | None


class SessionOut(BaseModel):
    """A session as the API shows it."""

    id: int
    title: str
    kind: SessionKind
    status: SessionStatus
    status_reason: str | None
    agency_id: int
    province_code: str
    chair_id: int | None
    starts_at: datetime
    ends_at: datetime
    restricted: bool
    approval_ref: str | None
    language: str
    series_id: int | None
    sequence: int
    room_name: str | None
    connection_points: list[ConnectionPointOut]


class InvitationCreate(_Body):
    """Someone to invite: a user (by id) or a citizen / connection point by name."""

    kind: ParticipantKind
    display_name: str = Field(min_length=1, max_length=200)
    user_id: int | None = None
    connection_point_id: int | None = None


class InvitationOut(BaseModel):
    """An invitation; ``join_url`` is the personal link for citizens and connection points."""

    id: int
    kind: ParticipantKind
    display_name: str
    user_id: int | None
    connection_point_id: int | None
    identity: str
    join_url: str | None


class AttendanceOut(BaseModel):
    """One stay of a participant in the room."""

    identity: str
    display_name: str
    joined_at: datetime | None
    left_at: datetime | None


class UserCreate(_Body):
    """A new user account (admin only)."""

    username: str = Field(min_length=3, max_length=100, pattern=r"^[a-z0-9._-]+$")
    display_name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=10, max_length=200)
    role: Role
    agency_id: int
    cleared: bool = False


class UserOut(BaseModel):
    """A user account, without secrets."""

    id: int
    username: str
    display_name: str
    role: Role
    agency_id: int
    cleared: bool
    active: bool


class MeOut(BaseModel):
    """The signed-in user, and the CSRF token a cookie-authenticated page must send back."""

    user: UserOut
    csrf_token: str | None


class AgencyCreate(_Body):
    """A new reception office (admin only)."""

    name: str = Field(min_length=1, max_length=200)
    tier: Tier
    province_code: str = Field(min_length=2, max_length=32)
    parent_id: int | None = None


class AgencyOut(BaseModel):
    """A reception office."""

    id: int
    name: str
    tier: Tier
    province_code: str
    parent_id: int | None


class CalendarFeedOut(BaseModel):
    """The caller's personal calendar feed URL (secret: anyone with it sees the calendar)."""

    url: str


class AgentHeartbeat(_Body):
    """A media agent's periodic report: who it is and how many rooms it can record."""

    agent_id: str = Field(min_length=1, max_length=100)
    capacity: int = Field(default=50, ge=0, le=10_000)
    # Bridges whose both sides are in their rooms now (see orchestrator.bridges).
    bridges_running: list[int] = Field(default_factory=list, max_length=10_000)


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


class RecordingComplete(_Body):
    """The recorder finalized a session's recording."""

    agent_id: str = Field(min_length=1, max_length=100)
    manifest_path: str = Field(min_length=1, max_length=500)


class RecordingCompleteOut(BaseModel):
    """Whether this report completed the recording, and whether it started the pipeline."""

    completed: bool
    pipeline_started: bool
