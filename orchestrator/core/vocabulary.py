"""The orchestrator's vocabulary: roles, tiers, session states and kinds, as plain enums."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a user account may do (see :mod:`orchestrator.core.permissions`)."""

    ADMIN = "admin"
    OFFICER = "officer"  # cán bộ tiếp công dân
    CHAIR = "chair"  # chủ trì
    CENTRAL_OBSERVER = "central_observer"  # Ban Tiếp công dân Trung ương
    ARCHIVIST = "archivist"


class Tier(StrEnum):
    """The level of a reception office or connection point."""

    CENTRAL = "central"
    PROVINCE = "province"
    COMMUNE = "commune"


class SessionKind(StrEnum):
    """Periodic (định kỳ, led by the chair), regular (thường xuyên) or ad hoc (đột xuất)."""

    PERIODIC = "periodic"
    REGULAR = "regular"
    AD_HOC = "ad_hoc"


class SessionStatus(StrEnum):
    """``scheduled → live → ended → processing → archived``, or ``cancelled`` / ``failed``."""

    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    PROCESSING = "processing"
    ARCHIVED = "archived"
    CANCELLED = "cancelled"
    FAILED = "failed"


class RecorderState(StrEnum):
    """Whether a session's recording runs: a media agent holds it (``recording``), none does (it
    waits for a free recorder: ``no_recorder``), or it is finalized (``complete``)."""

    RECORDING = "recording"
    NO_RECORDER = "no_recorder"
    COMPLETE = "complete"
