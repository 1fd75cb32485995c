"""Passwords and bearer API tokens: how each is made and how the stored form is checked."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

_hasher = PasswordHasher()
API_TOKEN_PREFIX = "tdn_"


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches; constant-time, never raises for a wrong password."""
    try:
        return _hasher.verify(password_hash, password)
    except VerificationError:
        return False


def new_api_token() -> tuple[str, str]:
    """A fresh bearer token and the SHA-256 that is stored in its place."""
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_digest(token)


def token_digest(token: str) -> str:
    """The stored form of a bearer token."""
    return hashlib.sha256(token.encode()).hexdigest()
