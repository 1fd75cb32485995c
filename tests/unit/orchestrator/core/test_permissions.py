"""The whole access matrix, written out by hand: every actor × action × kind of scope."""

from __future__ import annotations

from dataclasses import replace

import pytest

from orchestrator.core.permissions import Action, Actor, SessionScope, can
from orchestrator.core.vocabulary import Role, Tier

# Geography: province "01" holds province office 10 and communes 11 and 12; province "79" holds
# commune 21; agency 1 is the central office (no province).
ACTORS = {
    "admin": Actor(1, Role.ADMIN, 1, None, Tier.CENTRAL, cleared=False),
    "officer_province": Actor(2, Role.OFFICER, 10, "01", Tier.PROVINCE, cleared=False),
    "officer_commune": Actor(3, Role.OFFICER, 11, "01", Tier.COMMUNE, cleared=False),
    "chair_province": Actor(4, Role.CHAIR, 10, "01", Tier.PROVINCE, cleared=False),
    "chair_commune": Actor(5, Role.CHAIR, 11, "01", Tier.COMMUNE, cleared=False),
    "central_observer": Actor(6, Role.CENTRAL_OBSERVER, 1, None, Tier.CENTRAL, cleared=False),
    "archivist_central": Actor(7, Role.ARCHIVIST, 1, None, Tier.CENTRAL, cleared=False),
    "archivist_province": Actor(8, Role.ARCHIVIST, 10, "01", Tier.PROVINCE, cleared=False),
    "archivist_commune": Actor(9, Role.ARCHIVIST, 11, "01", Tier.COMMUNE, cleared=False),
}

# The columns of every row below, in this order.
COLUMNS = (
    "own",  # a session of the actor's own agency
    "commune_same_province",  # a session of commune 12 of province "01"
    "other_province",  # a session of commune 21 of province "79"
    "restricted_own",  # a restricted session of the actor's own agency, actor not cleared
    "restricted_own_cleared",  # the same, actor cleared
    "none",  # no resource
)

# "Y" allowed, "." refused.
A = Action
EXPECTED: dict[str, dict[Action, str]] = {
    "admin": {
        A.VIEW_SESSION: "YYY.Y.",
        A.CREATE_SESSION: "YYY.Y.",
        A.UPDATE_SESSION: "YYY.Y.",
        A.CANCEL_SESSION: "YYY.Y.",
        A.LAUNCH_SESSION: "YYY.Y.",
        A.MANAGE_INVITATIONS: "YYY.Y.",
        A.ISSUE_JOIN_LINKS: "YYY.Y.",
        A.VIEW_ATTENDANCE: "YYY.Y.",
        A.LISTEN_IN: "YYY.Y.",
        A.MANAGE_BRIDGES: "YYY.Y.",
        A.MANAGE_USERS: "YYY.YY",
        A.MANAGE_AGENCIES: "YYY.YY",
        A.SEARCH_ARCHIVE: "YYY.YY",
        A.PLAY_RECORDING: "YYY.Y.",
    },
    "officer_province": {
        A.VIEW_SESSION: "YY..Y.",
        A.CREATE_SESSION: "Y...Y.",
        A.UPDATE_SESSION: "Y...Y.",
        A.CANCEL_SESSION: "Y...Y.",
        A.LAUNCH_SESSION: "Y...Y.",
        A.MANAGE_INVITATIONS: "Y...Y.",
        A.ISSUE_JOIN_LINKS: "Y...Y.",
        A.VIEW_ATTENDANCE: "YY..Y.",
        A.LISTEN_IN: "......",
        A.MANAGE_BRIDGES: "......",
        A.MANAGE_USERS: "......",
        A.MANAGE_AGENCIES: "......",
        A.SEARCH_ARCHIVE: "......",
        A.PLAY_RECORDING: "......",
    },
    "officer_commune": {
        A.VIEW_SESSION: "Y...Y.",
        A.CREATE_SESSION: "Y...Y.",
        A.UPDATE_SESSION: "Y...Y.",
        A.CANCEL_SESSION: "Y...Y.",
        A.LAUNCH_SESSION: "Y...Y.",
        A.MANAGE_INVITATIONS: "Y...Y.",
        A.ISSUE_JOIN_LINKS: "Y...Y.",
        A.VIEW_ATTENDANCE: "Y...Y.",
        A.LISTEN_IN: "......",
        A.MANAGE_BRIDGES: "......",
        A.MANAGE_USERS: "......",
        A.MANAGE_AGENCIES: "......",
        A.SEARCH_ARCHIVE: "......",
        A.PLAY_RECORDING: "......",
    },
    "chair_province": {
        A.VIEW_SESSION: "YY..Y.",
        A.CREATE_SESSION: "Y...Y.",
        A.UPDATE_SESSION: "Y...Y.",
        A.CANCEL_SESSION: "Y...Y.",
        A.LAUNCH_SESSION: "Y...Y.",
        A.MANAGE_INVITATIONS: "Y...Y.",
        A.ISSUE_JOIN_LINKS: "Y...Y.",
        A.VIEW_ATTENDANCE: "YY..Y.",
        A.LISTEN_IN: "......",
        A.MANAGE_BRIDGES: "......",
        A.MANAGE_USERS: "......",
        A.MANAGE_AGENCIES: "......",
        A.SEARCH_ARCHIVE: "......",
        A.PLAY_RECORDING: "......",
    },
    "chair_commune": {
        A.VIEW_SESSION: "Y...Y.",
        A.CREATE_SESSION: "Y...Y.",
        A.UPDATE_SESSION: "Y...Y.",
        A.CANCEL_SESSION: "Y...Y.",
        A.LAUNCH_SESSION: "Y...Y.",
        A.MANAGE_INVITATIONS: "Y...Y.",
        A.ISSUE_JOIN_LINKS: "Y...Y.",
        A.VIEW_ATTENDANCE: "Y...Y.",
        A.LISTEN_IN: "......",
        A.MANAGE_BRIDGES: "......",
        A.MANAGE_USERS: "......",
        A.MANAGE_AGENCIES: "......",
        A.SEARCH_ARCHIVE: "......",
        A.PLAY_RECORDING: "......",
    },
    "central_observer": {
        A.VIEW_SESSION: "YYY.Y.",
        A.CREATE_SESSION: "......",
        A.UPDATE_SESSION: "......",
        A.CANCEL_SESSION: "......",
        A.LAUNCH_SESSION: "......",
        A.MANAGE_INVITATIONS: "......",
        A.ISSUE_JOIN_LINKS: "......",
        A.VIEW_ATTENDANCE: "YYY.Y.",
        A.LISTEN_IN: "YYY.Y.",
        A.MANAGE_BRIDGES: "YYY.Y.",
        A.MANAGE_USERS: "......",
        A.MANAGE_AGENCIES: "......",
        A.SEARCH_ARCHIVE: "......",
        A.PLAY_RECORDING: "......",
    },
    "archivist_central": {
        A.VIEW_SESSION: "YYY.Y.",
        A.CREATE_SESSION: "......",
        A.UPDATE_SESSION: "......",
        A.CANCEL_SESSION: "......",
        A.LAUNCH_SESSION: "......",
        A.MANAGE_INVITATIONS: "......",
        A.ISSUE_JOIN_LINKS: "......",
        A.VIEW_ATTENDANCE: "......",
        A.LISTEN_IN: "......",
        A.MANAGE_BRIDGES: "......",
        A.MANAGE_USERS: "......",
        A.MANAGE_AGENCIES: "......",
        A.SEARCH_ARCHIVE: "YYY.YY",
        A.PLAY_RECORDING: "YYY.Y.",
    },
    "archivist_province": {
        A.VIEW_SESSION: "YY..Y.",
        A.CREATE_SESSION: "......",
        A.UPDATE_SESSION: "......",
        A.CANCEL_SESSION: "......",
        A.LAUNCH_SESSION: "......",
        A.MANAGE_INVITATIONS: "......",
        A.ISSUE_JOIN_LINKS: "......",
        A.VIEW_ATTENDANCE: "......",
        A.LISTEN_IN: "......",
        A.MANAGE_BRIDGES: "......",
        A.MANAGE_USERS: "......",
        A.MANAGE_AGENCIES: "......",
        A.SEARCH_ARCHIVE: "YY..YY",
        A.PLAY_RECORDING: "YY..Y.",
    },
    "archivist_commune": {
        A.VIEW_SESSION: "Y...Y.",
        A.CREATE_SESSION: "......",
        A.UPDATE_SESSION: "......",
        A.CANCEL_SESSION: "......",
        A.LAUNCH_SESSION: "......",
        A.MANAGE_INVITATIONS: "......",
        A.ISSUE_JOIN_LINKS: "......",
        A.VIEW_ATTENDANCE: "......",
        A.LISTEN_IN: "......",
        A.MANAGE_BRIDGES: "......",
        A.MANAGE_USERS: "......",
        A.MANAGE_AGENCIES: "......",
        A.SEARCH_ARCHIVE: "Y...YY",
        A.PLAY_RECORDING: "Y...Y.",
    },
}


def _case(actor: Actor, column: str) -> tuple[Actor, SessionScope | None]:
    own = SessionScope(actor.agency_id, actor.province_code, restricted=False)
    match column:
        case "own":
            return actor, own
        case "commune_same_province":
            return actor, SessionScope(12, "01", restricted=False)
        case "other_province":
            return actor, SessionScope(21, "79", restricted=False)
        case "restricted_own":
            return actor, replace(own, restricted=True)
        case "restricted_own_cleared":
            return replace(actor, cleared=True), replace(own, restricted=True)
        case "none":
            return actor, None
    raise AssertionError(column)


MATRIX = [
    pytest.param(name, action, column, row[action][i] == "Y", id=f"{name}-{action}-{column}")
    for name, row in EXPECTED.items()
    for action in Action
    for i, column in enumerate(COLUMNS)
]


def test_the_table_covers_every_role_action_and_column() -> None:
    assert {a.role for a in ACTORS.values()} == set(Role)
    assert set(EXPECTED) == set(ACTORS)
    for row in EXPECTED.values():
        assert set(row) == set(Action)
        assert all(
            len(cells) == len(COLUMNS) and set(cells) <= {"Y", "."} for cells in row.values()
        )


@pytest.mark.parametrize(("actor_name", "action", "column", "allowed"), MATRIX)
def test_matrix(actor_name: str, action: Action, column: str, allowed: bool) -> None:
    actor, resource = _case(ACTORS[actor_name], column)
    assert can(actor, action, resource) is allowed


@pytest.mark.parametrize(
    "resource",
    [SessionScope(21, "79", restricted=True), SessionScope(11, "01", restricted=True)],
    ids=["other_province", "commune"],
)
@pytest.mark.parametrize("actor_name", sorted(ACTORS))
@pytest.mark.parametrize("action", list(Action))
def test_a_restricted_session_is_invisible_to_everyone_not_cleared(
    actor_name: str, action: Action, resource: SessionScope
) -> None:
    assert can(ACTORS[actor_name], action, resource) is False


def test_an_observer_account_outside_the_centre_gets_nothing() -> None:
    misplaced = Actor(10, Role.CENTRAL_OBSERVER, 10, "01", Tier.PROVINCE, cleared=True)
    assert not any(can(misplaced, action, SessionScope(10, "01", False)) for action in Action)


def test_a_province_officer_does_not_supervise_another_province() -> None:
    officer = ACTORS["officer_province"]
    assert can(officer, Action.VIEW_SESSION, SessionScope(12, "01", False))
    assert not can(officer, Action.VIEW_SESSION, SessionScope(20, "79", False))
    assert not can(officer, Action.UPDATE_SESSION, SessionScope(12, "01", False))
