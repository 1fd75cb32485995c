"""Browser sessions kept server-side, in the broker's Redis: the cookie holds only a random id.

A signed-in session lasts 12 hours from sign-in; a session without a user (the sign-in form's
CSRF token) lasts an hour, so anonymous visitors cannot fill Redis for long. Redis stores each
session under the SHA-256 of its id, so a copy of Redis holds no cookie that would sign anyone
in, and keeps, per user, the set of their sessions' keys: :meth:`SessionStore.end_all` deletes
every session of one user in one atomic step (sign-out, a password, role or office change, an
account disabled).

Redis out of reach is :class:`UpstreamUnavailable` (a Vietnamese 503), never a 500; requests with
no cookie (a citizen's join link) and bearer requests never reach Redis.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Awaitable
from typing import TypeVar

from aiohttp import web
from aiohttp_session import AbstractStorage, Session
from redis.asyncio import Redis

from config import Settings
from orchestrator.web.redis_reach import redis_answers, redis_pool

__all__ = ["ANONYMOUS_TTL_S", "COOKIE", "SIGNED_IN_TTL_S", "USER_ID", "SessionStore"]

COOKIE = "tiepdan_session"
USER_ID = "user_id"
SIGNED_IN_TTL_S = 12 * 3600
ANONYMOUS_TTL_S = 3600
_PREFIX = "tiepdan-session:"
_USER_PREFIX = "tiepdan-user-sessions:"

# Every session of one user, and the set that lists them, deleted in one step: a sign-in cannot
# add itself between the read of the set and the deletions.
_END_ALL = """
local keys = redis.call('SMEMBERS', KEYS[1])
for _, key in ipairs(keys) do redis.call('DEL', key) end
redis.call('DEL', KEYS[1])
return #keys
"""

T = TypeVar("T")


def _key(session_id: str) -> str:
    return _PREFIX + hashlib.sha256(session_id.encode()).hexdigest()


def _user_key(user_id: int) -> str:
    return f"{_USER_PREFIX}{user_id}"


async def _reach(call: Awaitable[T]) -> T:
    with redis_answers():
        return await call


class SessionStore(AbstractStorage):
    """aiohttp-session's storage over Redis, with every session of a user endable at once."""

    def __init__(self, settings: Settings) -> None:
        """A store on the broker's Redis; it connects on first use, :meth:`aclose` closes it."""
        super().__init__(
            cookie_name=COOKIE,
            httponly=True,
            samesite="Lax",
            secure=settings.web.secure_cookies,
        )
        self._redis = Redis.from_pool(redis_pool(settings.broker.url))
        self._end_all = self._redis.register_script(_END_ALL)

    async def aclose(self) -> None:
        """Close the store's Redis connections."""
        await self._redis.aclose()

    async def load_session(self, request: web.Request) -> Session:
        """The session the cookie names; a fresh, empty one when there is none, or when it has
        expired or was ended (the cookie is then replaced if anything is stored)."""
        session_id = self.load_cookie(request)
        raw = await _reach(self._redis.get(_key(session_id))) if session_id else None
        if raw is None:
            return Session(None, data=None, new=True)
        return Session(session_id, data=json.loads(raw), new=False)

    async def save_session(
        self, request: web.Request, response: web.StreamResponse, session: Session
    ) -> None:
        """Store a changed session. A new one gets a new random id (never one a client sent:
        no fixation) and a lifetime; an existing one keeps both, and is only overwritten while
        it still exists, so a request under way when the session was ended cannot revive it."""
        if session.empty:
            if session.identity:
                await _reach(self._redis.delete(_key(session.identity)))
            self.save_cookie(response, "")
            return
        user_id: int | None = session.get(USER_ID)
        new = session.new
        if new:
            session.set_new_identity(secrets.token_urlsafe(32))
        session_id = str(session.identity)
        key, value = _key(session_id), json.dumps({"session": dict(session)})
        ttl = SIGNED_IN_TTL_S if user_id is not None else ANONYMOUS_TTL_S
        async with self._redis.pipeline(transaction=True) as pipe:
            if new:
                pipe.set(key, value, ex=ttl)
            else:
                pipe.set(key, value, xx=True, keepttl=True)
            if user_id is not None:
                pipe.sadd(_user_key(user_id), key)
                pipe.expire(_user_key(user_id), SIGNED_IN_TTL_S)
            await _reach(pipe.execute())
        if new:
            self.save_cookie(response, session_id, max_age=ttl)

    async def discard(self, session: Session) -> None:
        """Delete ``session`` from Redis (the one a sign-in replaces)."""
        if session.identity:
            await _reach(self._redis.delete(_key(session.identity)))

    async def end_all(self, user_id: int) -> int:
        """End every session of ``user_id`` at once; how many there were."""
        return int(await _reach(self._end_all(keys=[_user_key(user_id)])))
