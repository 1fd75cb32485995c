"""User accounts: a new user from its validated body (the password checked against the policy and
hashed, a fresh feed token), and setting a password.

Both are CPU-bound (the strength estimate, argon2): a handler runs them in a thread.
"""

from __future__ import annotations

import secrets

from orchestrator.accounts.passwords import weak_password_reason
from orchestrator.accounts.schemas import UserCreate
from orchestrator.core.credentials import hash_password
from orchestrator.core.errors import Unprocessable
from orchestrator.db.models import User


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
