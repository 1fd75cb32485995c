"""The session lifecycle table: every pair of statuses, allowed or refused, through ``move``."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from orchestrator.core.errors import Conflict
from orchestrator.core.lifecycle import IllegalMove, can_move, move
from orchestrator.core.vocabulary import SessionStatus as S

ALLOWED = {
    (S.SCHEDULED, S.LIVE),
    (S.SCHEDULED, S.CANCELLED),
    (S.LIVE, S.ENDED),
    (S.LIVE, S.FAILED),
    (S.ENDED, S.PROCESSING),
    (S.ENDED, S.FAILED),
    (S.PROCESSING, S.ARCHIVED),
    (S.PROCESSING, S.FAILED),
    (S.FAILED, S.PROCESSING),  # a step retried later (the archive outbox's re-drive)
}


@dataclass
class Session:
    status: S
    status_reason: str | None = "why it is so"


@pytest.mark.parametrize(("current", "new"), list(itertools.product(S, S)))
def test_every_transition(current: S, new: S) -> None:
    assert can_move(current, new) == ((current, new) in ALLOWED)
    session = Session(current)
    if (current, new) in ALLOWED:
        move(session, new, "the reason")
        assert session == Session(new, "the reason")
    else:
        with pytest.raises(IllegalMove, match="Không thể chuyển phiên") as refused:
            move(session, new, "the reason")
        assert isinstance(refused.value, Conflict)  # a 409 for the user
        assert session == Session(current)  # unchanged


def test_a_move_without_a_reason_keeps_the_reason_it_has() -> None:
    session = Session(S.ENDED, "ended by chair")
    move(session, S.PROCESSING)
    assert session == Session(S.PROCESSING, "ended by chair")
