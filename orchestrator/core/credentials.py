"""Passwords and bearer API tokens: how each is made and how the stored form is checked.

Argon2 costs tens of milliseconds of CPU by design, so :func:`verify_password` runs it in a
thread: on the event loop, a handful of sign-in attempts would stall every other request.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

_hasher = PasswordHasher()
API_TOKEN_PREFIX = "tdn_"


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (CPU-bound: off the event loop, run it in a thread)."""
    return _hasher.hash(password)


@functools.cache
def _unknown_user_hash() -> str:
    # A hash of nothing anyone knows, with the same parameters as real ones: checking a password
    # against it costs what checking a real one does, so the answer's timing does not tell
    # whether the user name exists.
    return hash_password(secrets.token_urlsafe(32))


def _matches(password_hash: str | None, password: str) -> bool:
    try:
        matched = _hasher.verify(password_hash or _unknown_user_hash(), password)
    except VerificationError:
        return False
    return matched and password_hash is not None


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``, checked in a thread.

    ``password_hash`` None (no such user) is checked against a hash nobody knows, which takes
    as long as a real check, and is never a match. Never raises for a wrong password.
    """
    return await asyncio.to_thread(_matches, password_hash, password)


def new_api_token() -> tuple[str, str]:
    """A fresh bearer token and the SHA-256 that is stored in its place."""
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_digest(token)


def token_digest(token: str) -> str:
    """The stored form of a bearer token."""
    return hashlib.sha256(token.encode()).hexdigest()
