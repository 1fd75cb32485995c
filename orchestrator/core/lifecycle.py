"""The session lifecycle as one table: which status may follow which."""

from __future__ import annotations

from types import MappingProxyType

from orchestrator.core.errors import Conflict
from orchestrator.core.vocabulary import SessionStatus as S

NEXT: MappingProxyType[S, frozenset[S]] = MappingProxyType(
    {
        S.SCHEDULED: frozenset({S.LIVE, S.CANCELLED}),
        S.LIVE: frozenset({S.ENDED, S.FAILED}),
        S.ENDED: frozenset({S.PROCESSING, S.FAILED}),
        S.PROCESSING: frozenset({S.ARCHIVED, S.FAILED}),
        S.ARCHIVED: frozenset(),
        S.CANCELLED: frozenset(),
        S.FAILED: frozenset(),
    }
)

_VI = {
    S.SCHEDULED: "đã lên lịch",
    S.LIVE: "đang diễn ra",
    S.ENDED: "đã kết thúc",
    S.PROCESSING: "đang xử lý",
    S.ARCHIVED: "đã lưu trữ",
    S.CANCELLED: "đã hủy",
    S.FAILED: "bị lỗi",
}


def status_vi(status: S) -> str:
    """The status in Vietnamese, for messages and pages."""
    return _VI[status]


def can_move(current: S, new: S) -> bool:
    """Whether a session in ``current`` may move to ``new``."""
    return new in NEXT[current]


def check_move(current: S, new: S) -> S:
    """``new`` if allowed, else :class:`Conflict` with a Vietnamese reason."""
    if not can_move(current, new):
        raise Conflict(
            f"Không thể chuyển phiên từ trạng thái '{status_vi(current)}' sang '{status_vi(new)}'."
        )
    return new
