"""User accounts and reception offices: the rules a new one must meet, and its row."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.accounts.schemas import AgencyCreate, UserCreate
from orchestrator.core.credentials import hash_password
from orchestrator.core.errors import Unprocessable
from orchestrator.db.models import Agency, Province, User


def new_user(body: UserCreate) -> User:
    """A user row with a hashed password and a fresh calendar feed token."""
    return User(
        username=body.username, display_name=body.display_name,
        password_hash=hash_password(body.password), role=body.role, agency_id=body.agency_id,
        cleared=body.cleared, active=True, feed_token=secrets.token_urlsafe(24),
    )  # fmt: skip


async def add_user(db: AsyncSession, body: UserCreate) -> User:
    """Add the user of ``body`` to ``db``'s transaction (flushed, so it has its id).

    Raises:
        Unprocessable: no such agency, or the username is taken.
    """
    if await db.get(Agency, body.agency_id) is None:
        raise Unprocessable(f"Không có cơ quan mã {body.agency_id}.")
    if await db.scalar(select(User).where(User.username == body.username)):
        raise Unprocessable(f"Tên đăng nhập {body.username!r} đã có người dùng.")
    user = new_user(body)
    db.add(user)
    await db.flush()
    return user


async def add_agency(db: AsyncSession, body: AgencyCreate) -> Agency:
    """Add the reception office of ``body`` to ``db``'s transaction (flushed, so it has its id).

    Raises:
        Unprocessable: no such province.
    """
    if await db.get(Province, body.province_code) is None:
        raise Unprocessable(f"Không có tỉnh, thành phố mã {body.province_code!r}.")
    agency = Agency(**body.model_dump())
    db.add(agency)
    await db.flush()
    return agency
