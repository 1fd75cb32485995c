"""The session lifecycle table: every pair of statuses, allowed or refused."""

from __future__ import annotations

import itertools

import pytest

from orchestrator.core.errors import Conflict
from orchestrator.core.lifecycle import can_move, check_move
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
}


@pytest.mark.parametrize(("current", "new"), list(itertools.product(S, S)))
def test_every_transition(current: S, new: S) -> None:
    assert can_move(current, new) == ((current, new) in ALLOWED)
    if (current, new) in ALLOWED:
        assert check_move(current, new) == new
    else:
        with pytest.raises(Conflict, match="Không thể chuyển phiên"):
            check_move(current, new)
