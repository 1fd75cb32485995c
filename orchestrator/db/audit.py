"""The audit log: every access and decision that matters, appended, never changed."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.models import AuditEntry, User


def audit(
    db: AsyncSession,
    *,
    action: str,
    target: str,
    outcome: str = "allowed",
    user: User | None = None,
    request: web.Request | None = None,
    **detail: Any,
) -> None:
    """Add an audit row to ``db``'s transaction (committed with the change it describes)."""
    db.add(
        AuditEntry(
            actor_user_id=user.id if user else None,
            action=action,
            target=target,
            outcome=outcome,
            remote_addr=request.remote if request is not None else None,
            detail=detail,
        )
    )
