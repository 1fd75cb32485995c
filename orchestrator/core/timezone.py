"""Vietnam's time zone, shared by everything that shows or expands wall-clock times."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

# Sessions are scheduled, shown and recur in Vietnamese wall time; storage stays in UTC.
VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def require_aware(value: datetime, name: str) -> datetime:
    """Return ``value`` unchanged if it carries a UTC offset.

    Args:
        value: the datetime to check.
        name: the argument's name, for the error message.

    Raises:
        ValueError: ``value`` is naive; a naive time is ambiguous between UTC and local time, and
            guessing is how a session ends up seven hours off.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value


def format_local(value: datetime) -> str:
    """Format an aware time as Vietnamese readers expect it: ``08:00 ngày 15/12/2026``."""
    return f"{require_aware(value, 'value').astimezone(VN_TZ):%H:%M ngày %d/%m/%Y}"
