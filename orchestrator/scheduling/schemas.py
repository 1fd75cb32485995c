"""Bodies of the scheduling API (pydantic, also the OpenAPI components): sessions and series,
invitations, the calendar feed URL."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from media.grants import ParticipantKind
from orchestrator.core.timezone import VN_TZ
from orchestrator.core.vocabulary import SessionKind, SessionStatus, Tier
from orchestrator.web.bodies import CalendarTime, RequestBody, RowId


def _aware(value: datetime) -> datetime:
    # A time without offset is Vietnam's wall clock: that is what officers type.
    return value.replace(tzinfo=VN_TZ) if value.tzinfo is None else value


VnDateTime = Annotated[CalendarTime, AfterValidator(_aware)]

Unchanged = SkipJsonSchema[None]
"""An update's field left out: kept as it is. Not a value a client may send (``null``)."""


class ConnectionPointIn(RequestBody):
    """A connection point (điểm cầu) to create with a session."""

    name: str = Field(min_length=1, max_length=200)
    tier: Tier
    agency_id: RowId | None = None


class SessionCreate(RequestBody):
    """A new session; with ``rrule`` a series, one session per occurrence."""

    title: str = Field(min_length=1, max_length=300)
    kind: SessionKind = SessionKind.PERIODIC
    agency_id: RowId
    chair_id: RowId | None = None
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


class SessionUpdate(RequestBody):
    """Fields to change on one session; absent fields stay as they are. ``null`` clears the
    chair or the approval reference; the other fields cannot be cleared."""

    title: str | Unchanged = Field(default=None, min_length=1, max_length=300)
    chair_id: RowId | None = None
    starts_at: VnDateTime | Unchanged = None
    ends_at: VnDateTime | Unchanged = None
    approval_ref: str | None = Field(default=None, max_length=200)
    restricted: bool | Unchanged = None

    @field_validator("title", "starts_at", "ends_at", "restricted", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("không được để trống (null); bỏ trường này đi nếu không đổi")
        return value


class SessionListQuery(BaseModel):
    """The query string of ``GET /sessions``: a status, and a window of start times."""

    status: SessionStatus | None = None
    start_from: VnDateTime | None = Field(default=None, alias="from")
    start_to: VnDateTime | None = Field(default=None, alias="to")


class ImportQuery(BaseModel):
    """The query string of ``POST /sessions/import``: the office that holds the sessions."""

    agency_id: RowId


class CancelRequest(RequestBody):
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


class InvitationCreate(RequestBody):
    """Someone to invite: a user (by id) or a citizen / connection point by name."""

    kind: ParticipantKind
    display_name: str = Field(min_length=1, max_length=200)
    user_id: RowId | None = None
    connection_point_id: RowId | None = None


class InvitationOut(BaseModel):
    """An invitation; ``join_url`` is the personal link for citizens and connection points."""

    id: int
    kind: ParticipantKind
    display_name: str
    user_id: int | None
    connection_point_id: int | None
    identity: str
    join_url: str | None


class CalendarFeedOut(BaseModel):
    """The caller's personal calendar feed URL (secret: anyone with it sees the calendar)."""

    url: str
