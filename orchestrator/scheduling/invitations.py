"""Invitations to a session and the personal join links of its guests.

A guest (a citizen, a connection point) has no account: the link is the key, and whoever holds it
enters the room under the guest's name. So a guest gets only a guest's grants, and only those who
invite (:attr:`Action.ISSUE_JOIN_LINKS`) ever see a link; re-issuing one revokes the old, whose
SHA-256 is kept so that it is refused by name.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from media.grants import ParticipantKind
from orchestrator.core.errors import NotFound, Unprocessable
from orchestrator.core.permissions import Action, Actor, can
from orchestrator.db.models import Invitation, ReceptionSession, RevokedJoinLink, User
from orchestrator.scheduling.schemas import InvitationCreate
from orchestrator.scheduling.service import get_session, scope_of

__all__ = [
    "GUEST_KINDS",
    "LinkLookup",
    "create_invitation",
    "find_by_link",
    "list_invitations",
    "reissue_link",
]

GUEST_KINDS = frozenset({ParticipantKind.CITIZEN, ParticipantKind.CONNECTION_POINT})
"""What a guest may be invited as: a hidden listener or staff rights would be tied to no account."""
_MACHINES = frozenset({ParticipantKind.RECORDER, ParticipantKind.BRIDGE})


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_invitation(
    db: AsyncSession, actor: Actor, session_id: int, body: InvitationCreate
) -> Invitation:
    """Add an invitation to ``db``'s transaction (flushed); a guest's comes with a join link.

    Raises:
        NotFound, Forbidden: the session is hidden from the actor, or they may not invite.
        Unprocessable: a machine's kind, a guest with more than a guest's grants, an unknown
            user, a connection point of another session.
    """
    session = await get_session(db, actor, session_id, Action.MANAGE_INVITATIONS)
    if body.kind in _MACHINES:
        raise Unprocessable("Không mời được tài khoản máy (ghi âm, cầu nối) như người dự.")
    if body.user_id is None and body.kind not in GUEST_KINDS:
        raise Unprocessable(
            "Khách mời không có tài khoản chỉ được dự với vai trò công dân (citizen) hoặc điểm "
            "cầu (connection_point). Cán bộ, chủ trì và quan sát viên trung ương phải được mời "
            "bằng tài khoản của họ (user_id)."
        )
    if body.user_id is not None and await db.get(User, body.user_id) is None:
        raise Unprocessable(f"Không có người dùng mã {body.user_id}.")
    if body.connection_point_id is not None and body.connection_point_id not in {
        p.id for p in session.connection_points
    }:
        raise Unprocessable("Điểm cầu không thuộc phiên này.")
    identity = f"user-{body.user_id}" if body.user_id else f"guest-{secrets.token_hex(6)}"
    invitation = Invitation(
        session_id=session.id, kind=body.kind, display_name=body.display_name,
        user_id=body.user_id, connection_point_id=body.connection_point_id, identity=identity,
        # Users sign in; citizens and connection points get a personal link instead.
        join_token=None if body.user_id else secrets.token_urlsafe(24),
    )  # fmt: skip
    db.add(invitation)
    await db.flush()
    return invitation


async def list_invitations(
    db: AsyncSession, actor: Actor, session_id: int
) -> tuple[Sequence[Invitation], bool]:
    """The session's invitations, and whether the actor may see their join links.

    Raises:
        NotFound: the session is hidden from the actor.
    """
    session = await get_session(db, actor, session_id)
    rows = await db.scalars(
        select(Invitation).where(Invitation.session_id == session.id).order_by(Invitation.id)
    )
    return rows.all(), can(actor, Action.ISSUE_JOIN_LINKS, scope_of(session))


async def reissue_link(
    db: AsyncSession, actor: Actor, session_id: int, invitation_id: int
) -> Invitation:
    """Give a guest's invitation a new join link in ``db``'s transaction; the old one is revoked.

    Raises:
        NotFound, Forbidden: the session is hidden from the actor, or they may not issue links.
        NotFound: no such invitation in the session.
        Unprocessable: the invitation is a user's (users sign in; they have no link).
    """
    session = await get_session(db, actor, session_id, Action.ISSUE_JOIN_LINKS)
    invitation = await db.get(Invitation, invitation_id)
    if invitation is None or invitation.session_id != session.id:
        raise NotFound(f"Phiên tiếp này không có lời mời số {invitation_id}.")
    if invitation.join_token is None:
        raise Unprocessable("Lời mời này dành cho một tài khoản: người dùng đăng nhập để vào "
                            "phiên, không có liên kết riêng.")  # fmt: skip
    db.add(RevokedJoinLink(token_sha256=_digest(invitation.join_token),
                           invitation_id=invitation.id, revoked_at=datetime.now(UTC)))  # fmt: skip
    invitation.join_token = secrets.token_urlsafe(24)
    await db.flush()
    return invitation


@dataclass(frozen=True)
class LinkLookup:
    """What a join link leads to: its invitation and session, or the time it was revoked.

    Attributes:
        invitation: the invitation the link belongs to (now or before it was replaced).
        session: that invitation's session.
        revoked_at: when the link was replaced by a new one; ``None`` while it is valid.
    """

    invitation: Invitation
    session: ReceptionSession
    revoked_at: datetime | None


async def find_by_link(db: AsyncSession, token: str) -> LinkLookup | None:
    """The invitation behind a join link's token, valid or revoked; ``None`` if none ever was."""
    invitation = await db.scalar(select(Invitation).where(Invitation.join_token == token))
    revoked_at = None
    if invitation is None:
        revoked = await db.get(RevokedJoinLink, _digest(token))
        if revoked is None:
            return None
        invitation, revoked_at = await db.get(Invitation, revoked.invitation_id), revoked.revoked_at
    assert invitation is not None  # a revoked link's invitation is kept (foreign key)
    session = await db.get(ReceptionSession, invitation.session_id)
    assert session is not None
    return LinkLookup(invitation, session, revoked_at)
