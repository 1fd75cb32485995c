"""Who may do what: one pure decision function over an actor, an action and a session's scope.

Every handler asks :func:`can` before acting; nothing else decides access. A restricted session
(a denunciation, tố cáo) is checked first, before any role, because the Law on Denunciation keeps
a denouncer's identity secret from everyone not cleared, administrators included.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from orchestrator.core.vocabulary import Role, Tier


class Action(StrEnum):
    """Something a user may attempt."""

    VIEW_SESSION = "view_session"
    CREATE_SESSION = "create_session"
    UPDATE_SESSION = "update_session"
    CANCEL_SESSION = "cancel_session"
    LAUNCH_SESSION = "launch_session"
    MANAGE_INVITATIONS = "manage_invitations"
    # Read or re-issue a citizen's or connection point's personal join link: whoever holds one
    # enters the room under that person's name, so only those who invite may see it.
    ISSUE_JOIN_LINKS = "issue_join_links"
    VIEW_ATTENDANCE = "view_attendance"
    LISTEN_IN = "listen_in"
    MANAGE_BRIDGES = "manage_bridges"
    MANAGE_USERS = "manage_users"
    MANAGE_AGENCIES = "manage_agencies"
    SEARCH_ARCHIVE = "search_archive"
    PLAY_RECORDING = "play_recording"


@dataclass(frozen=True)
class Actor:
    """The user asking, as far as access decisions go.

    Attributes:
        user_id: the user's id.
        role: the user's role.
        agency_id: the reception office the user belongs to.
        province_code: the province of that office; ``None`` for a central-tier office.
        tier: the tier of that office.
        cleared: whether the user may see restricted (denunciation) sessions.
    """

    user_id: int
    role: Role
    agency_id: int
    province_code: str | None
    tier: Tier
    cleared: bool


@dataclass(frozen=True)
class SessionScope:
    """Where a session belongs, as far as access decisions go.

    Attributes:
        agency_id: the reception office holding the session.
        province_code: that office's province; ``None`` for a central-tier office.
        restricted: whether the session handles a denunciation and is hidden from the uncleared.
    """

    agency_id: int
    province_code: str | None
    restricted: bool


# These act on the system (or the archive as a whole), not on one session.
_SESSIONLESS = frozenset({Action.SEARCH_ARCHIVE, Action.MANAGE_USERS, Action.MANAGE_AGENCIES})

_OWN_AGENCY_ACTIONS = frozenset(
    {
        Action.VIEW_SESSION,
        Action.CREATE_SESSION,
        Action.UPDATE_SESSION,
        Action.CANCEL_SESSION,
        Action.LAUNCH_SESSION,
        Action.MANAGE_INVITATIONS,
        Action.ISSUE_JOIN_LINKS,
        Action.VIEW_ATTENDANCE,
    }
)
# A province office supervises the communes of its province: it may look, not change.
_SUPERVISION_ACTIONS = frozenset({Action.VIEW_SESSION, Action.VIEW_ATTENDANCE})
_OBSERVER_ACTIONS = frozenset(
    {Action.VIEW_SESSION, Action.VIEW_ATTENDANCE, Action.LISTEN_IN, Action.MANAGE_BRIDGES}
)
_ARCHIVIST_ACTIONS = frozenset({Action.SEARCH_ARCHIVE, Action.VIEW_SESSION, Action.PLAY_RECORDING})


def can(actor: Actor, action: Action, resource: SessionScope | None = None) -> bool:
    """Decide whether ``actor`` may perform ``action`` on ``resource``.

    Args:
        actor: the user asking.
        action: what they attempt.
        resource: the session acted on; for :attr:`Action.CREATE_SESSION`, the session about to
            be created. ``None`` only for :attr:`Action.SEARCH_ARCHIVE` (the archive as a whole:
            each hit must still be checked with its own scope), :attr:`Action.MANAGE_USERS` and
            :attr:`Action.MANAGE_AGENCIES`.

    Returns:
        ``True`` if allowed. Anything not explicitly granted is refused.
    """
    if resource is None:
        if action not in _SESSIONLESS:
            return False
    elif resource.restricted and not actor.cleared:
        return False

    match actor.role:
        case Role.ADMIN:
            return True
        case Role.OFFICER | Role.CHAIR:
            return resource is not None and _office_may(actor, action, resource)
        case Role.CENTRAL_OBSERVER:
            # Fail closed on an inconsistent account: the role only makes sense at the centre.
            return (
                resource is not None and actor.tier is Tier.CENTRAL and action in _OBSERVER_ACTIONS
            )
        case Role.ARCHIVIST:
            if action not in _ARCHIVIST_ACTIONS:
                return False
            if resource is None:
                return action is Action.SEARCH_ARCHIVE
            return _in_archive_scope(actor, resource)
    return False


def may_join(actor: Actor, resource: SessionScope, invited: bool) -> bool:
    """Whether ``actor`` may enter a live session's room: invited to it, or allowed to open it
    or to listen in."""
    return (
        invited
        or can(actor, Action.LAUNCH_SESSION, resource)
        or can(actor, Action.LISTEN_IN, resource)
    )


def _office_may(actor: Actor, action: Action, resource: SessionScope) -> bool:
    if resource.agency_id == actor.agency_id:
        return action in _OWN_AGENCY_ACTIONS
    # SessionScope carries no tier, so "the communes of the province" is every other office of
    # the province: a province office may look at all of them.
    return (
        actor.tier is Tier.PROVINCE
        and actor.province_code is not None
        and resource.province_code == actor.province_code
        and action in _SUPERVISION_ACTIONS
    )


def _in_archive_scope(actor: Actor, resource: SessionScope) -> bool:
    match actor.tier:
        case Tier.CENTRAL:
            return True
        case Tier.PROVINCE:
            return actor.province_code is not None and resource.province_code == actor.province_code
        case Tier.COMMUNE:
            return resource.agency_id == actor.agency_id
    return False
