"""The audit log: every access and decision that matters, appended, never changed; and the
permission subject (:class:`Actor`) of the user who acts."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.core.permissions import Actor
from orchestrator.db.models import AuditEntry, User


def audit(
    db: AsyncSession,
    *,
    action: str,
    target: str,
    outcome: str = "allowed",
    user: User | None = None,
    remote: str | None = None,
    **detail: Any,
) -> None:
    """Add an audit row to ``db``'s transaction (committed with the change it describes)."""
    db.add(
        AuditEntry(
            actor_user_id=user.id if user else None,
            action=action,
            target=target,
            outcome=outcome,
            remote_addr=remote,
            detail=detail,
        )
    )


def actor_of(user: User) -> Actor:
    """The permission subject for ``user``."""
    agency = user.agency
    return Actor(
        user_id=user.id,
        role=user.role,
        agency_id=user.agency_id,
        province_code=None if agency.province_code == "tw" else agency.province_code,
        tier=agency.tier,
        cleared=user.cleared,
    )
