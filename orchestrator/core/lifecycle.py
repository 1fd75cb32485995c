"""The session lifecycle as one table: which status may follow which."""

from __future__ import annotations

from types import MappingProxyType

from orchestrator.core.errors import Conflict
from orchestrator.core.labels import STATUSES
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


def can_move(current: S, new: S) -> bool:
    """Whether a session in ``current`` may move to ``new``."""
    return new in NEXT[current]


def check_move(current: S, new: S) -> S:
    """``new`` if allowed, else :class:`Conflict` with a Vietnamese reason."""
    if not can_move(current, new):
        raise Conflict(
            f"Không thể chuyển phiên từ trạng thái '{STATUSES[current]}' sang '{STATUSES[new]}'."
        )
    return new
