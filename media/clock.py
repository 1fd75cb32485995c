"""The session clock: one timeline for every track of a reception session."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class SessionClock:
    """Seconds since the session started, read from the monotonic clock.

    The clock is anchored once to a wall-clock start: ``now()`` is the wall-clock offset measured
    at construction plus the monotonic time elapsed since, so a wall-clock step (NTP, a manual
    change) never shifts a track, while a recorder restarted mid-session (constructed again from
    the same ``started_at``) continues the same timeline.

    Args:
        started_at: when the session (its recording) started, timezone-aware; ``None`` starts the
            clock now.

    Raises:
        ValueError: ``started_at`` is naive.
    """

    def __init__(self, started_at: datetime | None = None) -> None:
        wall_now = datetime.now(UTC)
        self._anchor = time.monotonic()
        if started_at is None:
            started_at = wall_now
        if started_at.tzinfo is None or started_at.utcoffset() is None:
            raise ValueError("started_at must be timezone-aware")
        self._started_at = started_at.astimezone(UTC)
        self._offset = (wall_now - self._started_at).total_seconds()

    @property
    def started_at(self) -> datetime:
        """The wall-clock start of the session, in UTC."""
        return self._started_at

    def now(self) -> float:
        """Seconds since :attr:`started_at` on this clock (monotonic, never steps back)."""
        return self._offset + (time.monotonic() - self._anchor)

    def at(self, wall: datetime) -> float:
        """The session time of the wall-clock time ``wall`` (timezone-aware)."""
        return (wall - self._started_at).total_seconds()

    def wall(self, t: float) -> datetime:
        """The wall-clock time (UTC) of session time ``t``."""
        return self._started_at + timedelta(seconds=t)
