"""The session lifecycle: the table of which status may follow which, and :func:`move`, the one
way a session's status changes.

``scheduled → live → ended → processing → archived``; a scheduled session may be cancelled; a
session whose pipeline gives up is ``failed`` (with the reason), and a step retried later (the
archive outbox's re-drive) takes it back to ``processing``.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Protocol

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
        S.FAILED: frozenset({S.PROCESSING}),
    }
)


class IllegalMove(Conflict):
    """The session's status does not allow this move (e.g. ending an archived session)."""


class Stated(Protocol):
    """What has a lifecycle: a reception session (the table row, or anything shaped like it)."""

    status: S
    status_reason: str | None


def can_move(current: S, new: S) -> bool:
    """Whether a session in ``current`` may move to ``new``."""
    return new in NEXT[current]


def move(session: Stated, new: S, reason: str | None = None) -> None:
    """Move ``session`` to ``new``: every change of a session's status goes through here.

    The caller holds the session's row (:func:`orchestrator.db.locking.locked_session`), so the
    status checked is the one the commit replaces.

    Args:
        session: the session, loaded in the transaction that changes it.
        new: the status it moves to.
        reason: why, kept as ``status_reason``; None keeps the reason it has.

    Raises:
        IllegalMove: the table does not allow it (a Vietnamese message for the user).
    """
    if not can_move(session.status, new):
        raise IllegalMove(
            f"Không thể chuyển phiên từ trạng thái '{STATUSES[session.status]}' "
            f"sang '{STATUSES[new]}'."
        )
    session.status = new
    if reason is not None:
        session.status_reason = reason
