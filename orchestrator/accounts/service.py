"""User accounts: a new user from its validated body (the password hashed, a fresh feed token)."""

from __future__ import annotations

import secrets

from orchestrator.accounts.schemas import UserCreate
from orchestrator.core.credentials import hash_password
from orchestrator.db.models import User


def new_user(body: UserCreate) -> User:
    """A user row with a hashed password and a fresh calendar feed token."""
    return User(
        username=body.username, display_name=body.display_name,
        password_hash=hash_password(body.password), role=body.role, agency_id=body.agency_id,
        cleared=body.cleared, active=True, feed_token=secrets.token_urlsafe(24),
    )  # fmt: skip
