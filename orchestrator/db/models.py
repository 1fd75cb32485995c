"""The orchestrator's tables (SQLAlchemy 2, typed declarative). Times are stored in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from orchestrator.domain import ParticipantKind, Role, SessionKind, SessionStatus, Tier

# Stable constraint names, so Alembic migrations read the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on both backends (SQLite keeps no time zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _enum(cls: type[Any]) -> Enum:
    # Store the values ("officer"), not the Python names ("OFFICER"); no native PG enum type, so
    # adding a value is a plain migration.
    return Enum(cls, values_callable=lambda e: [m.value for m in e], native_enum=False, length=32)


class Base(DeclarativeBase):
    """Declarative base with the naming convention."""

    metadata = MetaData(naming_convention=NAMING)


class Province(Base):
    """A provincial-level unit (34 since 1/7/2025), or the central level (code ``tw``)."""

    __tablename__ = "provinces"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    gso_code: Mapped[str] = mapped_column(String(4), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # central | city | province


class Agency(Base):
    """A reception office (Ban tiếp công dân) at central, province or commune level."""

    __tablename__ = "agencies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[Tier] = mapped_column(_enum(Tier))
    province_code: Mapped[str] = mapped_column(ForeignKey("provinces.code"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    province: Mapped[Province] = relationship(lazy="joined")


class User(Base):
    """A person who signs in: officer, chair, central observer, archivist or admin."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(_enum(Role))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    cleared: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Secret part of the personal calendar feed URL; replaced to revoke the old one.
    feed_token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=func.now())
    agency: Mapped[Agency] = relationship(lazy="joined")


class ApiToken(Base):
    """A bearer token for automation; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class SessionSeries(Base):
    """The recurrence of a periodic session; each occurrence is a :class:`ReceptionSession`."""

    __tablename__ = "session_series"
    id: Mapped[int] = mapped_column(primary_key=True)
    rrule: Mapped[str] = mapped_column(String(500))
    exdates: Mapped[list[str]] = mapped_column(JSON, default=list)


class ReceptionSession(Base):
    """One reception session (phiên tiếp công dân), or one occurrence of a series."""

    __tablename__ = "reception_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[SessionKind] = mapped_column(_enum(SessionKind))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    chair_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[SessionStatus] = mapped_column(_enum(SessionStatus))
    status_reason: Mapped[str | None] = mapped_column(Text)
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    approval_ref: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8), default="vi")
    series_id: Mapped[int | None] = mapped_column(ForeignKey("session_series.id"))
    # Bumped on every change a calendar must pick up (RFC 5545 SEQUENCE).
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    room_name: Mapped[str | None] = mapped_column(String(100), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime, server_default=func.now(), onupdate=func.now()
    )
    agency: Mapped[Agency] = relationship(lazy="joined")
    chair: Mapped[User | None] = relationship(lazy="joined", foreign_keys=[chair_id])
    series: Mapped[SessionSeries | None] = relationship()
    connection_points: Mapped[list[ConnectionPoint]] = relationship(
        lazy="selectin", order_by="ConnectionPoint.id"
    )

    __table_args__ = (Index("ix_reception_sessions_status_starts", "status", "starts_at"),)


class ConnectionPoint(Base):
    """A connection point (điểm cầu) of a session."""

    __tablename__ = "connection_points"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("reception_sessions.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[Tier] = mapped_column(_enum(Tier))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))


class Invitation(Base):
    """Someone invited to a session: a user, or a citizen / connection point with a join link."""

    __tablename__ = "invitations"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("reception_sessions.id"), index=True)
    kind: Mapped[ParticipantKind] = mapped_column(_enum(ParticipantKind))
    display_name: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    connection_point_id: Mapped[int | None] = mapped_column(ForeignKey("connection_points.id"))
    # The LiveKit identity this invitation joins as.
    identity: Mapped[str] = mapped_column(String(100))
    # Secret of the personal join link of a citizen or connection point (users sign in instead).
    join_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=func.now())
    __table_args__ = (UniqueConstraint("session_id", "identity"),)


class Attendance(Base):
    """One stay of one participant in a session's room, from LiveKit webhooks."""

    __tablename__ = "attendance"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("reception_sessions.id"), index=True)
    identity: Mapped[str] = mapped_column(String(100))
    participant_sid: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(200))
    joined_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    __table_args__ = (UniqueConstraint("session_id", "participant_sid"),)


class WebhookEvent(Base):
    """LiveKit webhook ids already applied: a redelivered event changes nothing."""

    __tablename__ = "webhook_events"
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=func.now())


class RecordingRequest(Base):
    """A session that needs a recorder, and the lease of the media agent recording it.

    ``requested_at`` anchors the session clock: a recorder that takes over after a crash
    continues the same clock. At most one agent holds the lease; it renews it by heartbeat,
    and another agent may take it once ``lease_expires_at`` has passed.
    """

    __tablename__ = "recording_requests"
    session_id: Mapped[int] = mapped_column(ForeignKey("reception_sessions.id"), primary_key=True)
    room_name: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=func.now())
    agent_id: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Where the agent wrote recording.json (its spool), for the pipeline.
    manifest_path: Mapped[str | None] = mapped_column(String(500))


class AuditEntry(Base):
    """The append-only audit log (UPDATE and DELETE are refused by database triggers)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=func.now())
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(16))  # allowed | denied | failed
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
