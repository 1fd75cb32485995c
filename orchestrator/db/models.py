"""The orchestrator's tables (SQLAlchemy 2, typed declarative). Times are stored in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    and_,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

from media.grants import ParticipantKind
from orchestrator.core.vocabulary import Role, SessionKind, SessionStatus, Tier

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
    # Set while the SFU has lost the live session's room (the reconciler recreated it and waits
    # for someone to rejoin); cleared when someone does.
    room_lost_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The UID of the .ics event it was imported from: a re-import updates, not duplicates.
    ical_uid: Mapped[str | None] = mapped_column(String(255))
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

    __table_args__ = (
        Index("ix_reception_sessions_status_starts", "status", "starts_at"),
        Index("ix_reception_sessions_agency_ical_uid", "agency_id", "ical_uid"),
    )


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


class RevokedJoinLink(Base):
    """A personal join link replaced by a new one (by its SHA-256): refused, and said so."""

    __tablename__ = "revoked_join_links"
    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id"))
    revoked_at: Mapped[datetime] = mapped_column(UtcDateTime)


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

    def held_at(self, now: datetime) -> bool:
        """Whether a media agent holds the lease at ``now`` (records, or is finalizing): the
        one rule for "a recorder is on it", with :meth:`held_at_clause` for queries."""
        return (
            self.agent_id is not None
            and self.lease_expires_at is not None
            and self.lease_expires_at >= now
        )

    @classmethod
    def held_at_clause(cls, now: datetime) -> ColumnElement[bool]:
        """:meth:`held_at` in SQL."""
        return and_(cls.agent_id.is_not(None), cls.lease_expires_at >= now)


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


class Bridge(Base):
    """A session room bridged into a hub room (the central hall's, or a province's for a commune
    session), run by one media agent under a lease like a recorder's.

    ``talk_back`` says whether the hub is heard in the session room. The bridge ends
    (``ended_at``) when it is deleted or its session is no longer live.
    """

    __tablename__ = "bridges"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("reception_sessions.id"), index=True)
    hub_room: Mapped[str] = mapped_column(String(100), index=True)
    hub_name: Mapped[str] = mapped_column(String(200))
    session_name: Mapped[str] = mapped_column(String(200))
    video: Mapped[bool] = mapped_column(Boolean, default=False)
    talk_back: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=func.now())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(200))
    agent_id: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Last heartbeat in which the agent reported both sides of the bridge in their rooms.
    running_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class SpeakRequest(Base):
    """A central observer's request to speak in a session, and the chair's decision on it."""

    __tablename__ = "speak_requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("reception_sessions.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The LiveKit identity whose permissions change.
    identity: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(16))  # pending | approved | declined | revoked
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=func.now())
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class SessionProcessing(Base):
    """The post-session pipeline's progress for one session (written by the Celery jobs).

    ``state`` is ``queued``, ``running``, ``done``, ``done_with_warnings`` (some track could not
    be transcribed; the others were) or ``failed`` (with ``error``). ``steps_done`` lists the
    finished steps in order (``transcribe``, ``merge``, ``mix``, ``minutes``, ``archive``,
    ``index``).
    """

    __tablename__ = "session_processing"
    session_id: Mapped[int] = mapped_column(ForeignKey("reception_sessions.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(32))
    steps_done: Mapped[list[str]] = mapped_column(JSON, default=list)
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime, server_default=func.now(), onupdate=func.now()
    )
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The last sign of life of the pipeline (a step starting or finishing, a track's progress, a
    # running step's heartbeat, a re-drive); None once nothing is left to do, or it gave up.
    # The sweeper re-drives a session whose mark is older than ``pipeline.stale_after_s``.
    progress_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    redrives: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ProcessingTrack(Base):
    """One speaker track's transcription within a session's pipeline.

    ``state`` is ``pending``, ``running``, ``done`` or ``failed`` (with ``reason``).
    ``attempts`` counts starts (a redelivered task starts again); ``completions`` counts
    transcripts written, which the pipeline keeps at one.
    """

    __tablename__ = "processing_tracks"
    session_id: Mapped[int] = mapped_column(ForeignKey("reception_sessions.id"), primary_key=True)
    track_sid: Mapped[str] = mapped_column(String(100), primary_key=True)
    identity: Mapped[str] = mapped_column(String(100))
    display_name: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    audio_s: Mapped[float] = mapped_column(Float, default=0.0)
    done_s: Mapped[float] = mapped_column(Float, default=0.0)
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    completions: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime, server_default=func.now(), onupdate=func.now()
    )


class TranscriptUtterance(Base):
    """One utterance of an archived session's transcript, as the archive search indexes it.

    The session's facts (province, agency, start, kind, case classification, restricted) are
    copied in so a search filters on one table (a session's ``restricted`` can only change while
    it is scheduled, long before anything is indexed). ``search_key`` orders
    rows by session start and carries the province (:mod:`orchestrator.search.keys`).
    ``text_folded`` and ``text_exact`` are the text's tokens (folded in Python by
    :mod:`orchestrator.search.folding`, or only lower-cased), joined by spaces: SQLite indexes them
    with FTS5 (``transcript_fts``, keyed by ``search_key``, with the speaker's name and the filters
    as words), PostgreSQL with generated ``tsvector`` columns under GIN.
    """

    __tablename__ = "transcript_utterances"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("reception_sessions.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    speaker_name: Mapped[str] = mapped_column(String(200))
    speaker_folded: Mapped[str] = mapped_column(String(200))
    speaker_role: Mapped[str] = mapped_column(String(32))
    connection_point: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    text_folded: Mapped[str] = mapped_column(Text)
    text_exact: Mapped[str] = mapped_column(Text)
    # Where the model was unsure: ``[start, end, probability]`` character spans of ``text``
    # (transcription.confidence), shown dimmed in the player.
    unsure: Mapped[list[list[float]]] = mapped_column(JSON, default=list)
    province_code: Mapped[str] = mapped_column(String(32))
    agency_id: Mapped[int] = mapped_column(Integer)
    session_start: Mapped[datetime] = mapped_column(UtcDateTime)
    session_kind: Mapped[str] = mapped_column(String(32))
    case_classification: Mapped[str | None] = mapped_column(String(32))
    restricted: Mapped[bool] = mapped_column(Boolean)
    search_key: Mapped[int] = mapped_column(BigInteger, unique=True)
    __table_args__ = (
        UniqueConstraint("session_id", "seq"),
        Index("ix_transcript_utterances_province_start", "province_code", "session_start"),
    )


class ArchiveOutbox(Base):
    """A session waiting to be archived (or archived): the archive step's durable to-do list.

    ``pending`` rows whose ``next_attempt_at`` has passed are re-enqueued by the periodic
    ``tiepdan.archive_outbox`` task, so a job lost with its worker or broker still completes;
    each failure pushes ``next_attempt_at`` back (exponential backoff) and keeps the error.
    """

    __tablename__ = "archive_outbox"
    session_id: Mapped[int] = mapped_column(ForeignKey("reception_sessions.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # pending | running | done
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    manifest_key: Mapped[str | None] = mapped_column(String(300))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    __table_args__ = (Index("ix_archive_outbox_state_next", "state", "next_attempt_at"),)


class PipelineOutbox(Base):
    """ "Enqueue the pipeline for this session": written in the commit that moves the session to
    ``processing``, sent to the broker after that commit and marked sent, and acknowledged by the
    worker once the session's chain of jobs is enqueued.

    A row still unsent, or sent long ago and never acknowledged, is sent again by the sweeper
    (:mod:`orchestrator.live.session_end`): a crash between the commit and the send, or a message
    the broker lost, still starts the pipeline.
    """

    __tablename__ = "pipeline_outbox"
    session_id: Mapped[int] = mapped_column(ForeignKey("reception_sessions.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    sends: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    acked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class IntegrityIncident(Base):
    """A recorded file that the pipeline found altered before reading it: ``recording.json``
    says ``expected_*``, the spool held ``found_*`` (null: the file was missing).

    The altered file is never archived as the original: it is moved aside and archived as
    ``archived_as`` (under ``incidents/``), and the session's signed manifest lists the incident
    (:mod:`orchestrator.pipeline.integrity`).
    """

    __tablename__ = "integrity_incidents"
    session_id: Mapped[int] = mapped_column(ForeignKey("reception_sessions.id"), primary_key=True)
    path: Mapped[str] = mapped_column(String(300), primary_key=True)
    expected_sha256: Mapped[str] = mapped_column(String(64))
    expected_bytes: Mapped[int] = mapped_column(Integer)
    found_sha256: Mapped[str | None] = mapped_column(String(64))
    found_bytes: Mapped[int | None] = mapped_column(Integer)
    archived_as: Mapped[str | None] = mapped_column(String(320))
    detected_at: Mapped[datetime] = mapped_column(UtcDateTime)
