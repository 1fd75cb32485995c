"""User accounts and reception offices: the rules a new one must meet, and its row; setting a
password (checked against the policy, then hashed).

The strength estimate and argon2 are CPU-bound: the async service runs them in a thread.
"""

from __future__ import annotations

import asyncio
import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.accounts.passwords import weak_password_reason
from orchestrator.accounts.schemas import AgencyCreate, UserCreate, UserUpdate
from orchestrator.core.credentials import hash_password, verify_password
from orchestrator.core.errors import NotFound, Unprocessable
from orchestrator.db.models import Agency, Province, User


def set_password(user: User, password: str) -> None:
    """Give ``user`` the password ``password``, if the policy accepts it.

    Raises:
        Unprocessable: the password is too easy to guess; the message says why, in Vietnamese.
    """
    reason = weak_password_reason(password, user.username, user.display_name)
    if reason is not None:
        raise Unprocessable(f"Mật khẩu quá dễ đoán: {reason}. Hãy chọn mật khẩu dài hơn, "
                            "khó đoán hơn, ví dụ vài từ không liên quan ghép lại.")  # fmt: skip
    user.password_hash = hash_password(password)


def new_user(body: UserCreate) -> User:
    """A user row with a hashed password and a fresh calendar feed token.

    Raises:
        Unprocessable: the password is too easy to guess.
    """
    user = User(
        username=body.username, display_name=body.display_name, role=body.role,
        agency_id=body.agency_id, cleared=body.cleared, active=True,
        feed_token=secrets.token_urlsafe(24),
    )  # fmt: skip
    set_password(user, body.password)
    return user


async def add_user(db: AsyncSession, body: UserCreate) -> User:
    """Add the user of ``body`` to ``db``'s transaction (flushed, so it has its id).

    Raises:
        Unprocessable: no such agency, or the username is taken.
    """
    if await db.get(Agency, body.agency_id) is None:
        raise Unprocessable(f"Không có cơ quan mã {body.agency_id}.")
    if await db.scalar(select(User).where(User.username == body.username)):
        raise Unprocessable(f"Tên đăng nhập {body.username!r} đã có người dùng.")
    user = await asyncio.to_thread(new_user, body)  # the strength estimate and argon2
    db.add(user)
    await db.flush()
    return user


async def update_user(db: AsyncSession, user_id: int, body: UserUpdate) -> tuple[User, list[str]]:
    """Apply an admin's change to a user in ``db``'s transaction; the user and the names of the
    fields that really changed (each of which must end the user's sessions).

    Raises:
        NotFound: no such user.
        Unprocessable: no such agency.
    """
    user = await db.get(User, user_id)
    if user is None:
        raise NotFound(f"Không có người dùng mã {user_id}.")
    changes = body.model_dump(exclude_none=True)
    if "agency_id" in changes and await db.get(Agency, changes["agency_id"]) is None:
        raise Unprocessable(f"Không có cơ quan mã {changes['agency_id']}.")
    changed = sorted(field for field, value in changes.items() if getattr(user, field) != value)
    for field in changed:
        setattr(user, field, changes[field])
    await db.flush()
    return user, changed


async def change_password(db: AsyncSession, user_id: int, current: str, new: str) -> bool:
    """Give the user ``new`` as password in ``db``'s transaction if ``current`` is theirs;
    whether it was (a wrong one changes nothing).

    Raises:
        Unprocessable: the new password is too easy to guess.
    """
    user = await db.get(User, user_id)
    if user is None or not await verify_password(user.password_hash, current):
        return False
    await asyncio.to_thread(set_password, user, new)  # the strength estimate and argon2
    await db.flush()
    return True


async def add_agency(db: AsyncSession, body: AgencyCreate) -> Agency:
    """Add the reception office of ``body`` to ``db``'s transaction (flushed, so it has its id).

    Raises:
        Unprocessable: no such province, or no such parent office.
    """
    if await db.get(Province, body.province_code) is None:
        raise Unprocessable(f"Không có tỉnh, thành phố mã {body.province_code!r}.")
    if body.parent_id is not None and await db.get(Agency, body.parent_id) is None:
        raise Unprocessable(f"Không có cơ quan cấp trên mã {body.parent_id}.")
    agency = Agency(**body.model_dump())
    db.add(agency)
    await db.flush()
    return agency
