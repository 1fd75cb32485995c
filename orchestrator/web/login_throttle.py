"""Sign-in throttling, shared by every orchestrator process through the broker's Redis.

Each attempt counts against two keys: the account name as typed (known or not, so a lock tells
nothing about which names exist) and the client address, an IPv6 client by its /64, which one
subscriber usually holds whole. Each key has tiers of moving windows (``security.login_limits_*``
in the settings); once a tier is used up the key is locked until the oldest attempt in it leaves
the window, so the waits grow with the tiers: minutes, then an hour, then a day.

A correct password clears the account's count. The address keeps its own: otherwise the holder
of one valid account could reset it between guesses at other people's. The count is taken before
the password is checked (an atomic step in Redis), so parallel attempts cannot all slip in
before the first of them is counted.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum

from limits import RateLimitItem, parse_many
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from config import Settings
from orchestrator.observability.instruments import FAILED_LOGINS
from orchestrator.web.redis_reach import redis_answers, redis_pool

__all__ = ["Lock", "LockScope", "LoginThrottle", "forwarded_client", "throttle_key"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Longer than any name a user can have (100): what is typed past it cannot name an account.
MAX_NAME = 100


class LockScope(StrEnum):
    """What a lock holds back: one account, or everything from one client address."""

    ACCOUNT = "account"
    ADDRESS = "address"


@dataclass(frozen=True)
class Lock:
    """A key that may not try again for ``retry_after_s`` seconds, having used up ``limit``."""

    scope: LockScope
    key: str
    retry_after_s: int
    limit: str


def throttle_key(scope: LockScope, value: str) -> str:
    """The key an account name or a client address is counted under."""
    if scope is LockScope.ACCOUNT:
        return value[:MAX_NAME]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return value[:MAX_NAME]  # not an IP (a Unix socket): counted as it is
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def forwarded_client(peer: str, forwarded_for: Sequence[str], proxies: Sequence[IPNetwork]) -> str:
    """The client's address, given the peer's, the X-Forwarded-For headers and the trusted
    proxies: walking back from the peer, the first hop that is not a trusted proxy. What a
    client writes in the header itself lies further left, so it is never reached."""
    hops = [peer] + [hop.strip() for value in reversed(forwarded_for)
                     for hop in reversed(value.split(","))]  # fmt: skip
    for hop in hops:
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            return hop[:MAX_NAME]  # what the last trusted proxy wrote, however odd
        if not any(address in network for network in proxies):
            return str(address)
    return hops[-1]


class LoginThrottle:
    """The tiers of both keys over one Redis storage."""

    def __init__(
        self,
        storage: RedisStorage,
        tiers: dict[LockScope, list[RateLimitItem]],
    ) -> None:
        self._limiter = MovingWindowRateLimiter(storage)
        self._tiers = tiers

    @classmethod
    @asynccontextmanager
    async def open(cls, settings: Settings) -> AsyncIterator[LoginThrottle]:
        """The throttle on the broker's Redis, its connections closed on exit."""
        pool = redis_pool(settings.broker.url)
        storage = RedisStorage(
            "async+" + settings.broker.url,
            implementation="redispy",
            key_prefix="tiepdan-login",
            connection_pool=pool,  # type: ignore[arg-type]  # passed on to redis-py
        )
        security = settings.security
        try:
            yield cls(
                storage,
                {
                    LockScope.ACCOUNT: parse_many(security.login_limits_per_account),
                    LockScope.ADDRESS: parse_many(security.login_limits_per_address),
                },
            )
        finally:
            await pool.aclose()

    def _keys(self, username: str, address: str) -> list[tuple[LockScope, str]]:
        return [
            (LockScope.ACCOUNT, throttle_key(LockScope.ACCOUNT, username)),
            (LockScope.ADDRESS, throttle_key(LockScope.ADDRESS, address)),
        ]

    async def _locks(self, keys: list[tuple[LockScope, str]]) -> list[Lock]:
        """The locks in force on ``keys``: each used-up tier, the longest wait first."""
        checks = [(scope, key, tier) for scope, key in keys for tier in self._tiers[scope]]
        stats = await asyncio.gather(
            *(self._limiter.get_window_stats(tier, scope, key) for scope, key, tier in checks)
        )
        now = time.time()
        locks = [
            Lock(scope, key, max(1, int(stat.reset_time - now + 0.999)), str(tier))
            for (scope, key, tier), stat in zip(checks, stats, strict=True)
            if stat.remaining <= 0
        ]
        return sorted(locks, key=lambda lock: -lock.retry_after_s)

    async def admit(self, username: str, address: str) -> Lock | None:
        """Count one attempt on both keys, or return the lock that refuses it."""
        with redis_answers(StorageError):
            return await self._admit(username, address)

    async def _admit(self, username: str, address: str) -> Lock | None:
        keys = self._keys(username, address)
        if locks := await self._locks(keys):
            FAILED_LOGINS.labels("locked").inc()
            return locks[0]
        for scope, key in keys:
            for tier in self._tiers[scope]:
                if not await self._limiter.hit(tier, scope, key):
                    # Another attempt took the last place between the check and now.
                    locks = await self._locks(keys)
                    return locks[0] if locks else Lock(scope, key, 1, str(tier))
        return None

    async def settle(self, username: str, address: str, *, succeeded: bool) -> list[Lock]:
        """After the password check: clear the account on success; return the locks that this
        attempt, the last one allowed, has just started (to audit and to announce)."""
        with redis_answers(StorageError):
            return await self._settle(username, address, succeeded=succeeded)

    async def _settle(self, username: str, address: str, *, succeeded: bool) -> list[Lock]:
        keys = self._keys(username, address)
        if not succeeded:
            FAILED_LOGINS.labels("wrong").inc()
        if succeeded:
            account = keys.pop(0)
            await asyncio.gather(
                *(self._limiter.clear(tier, *account) for tier in self._tiers[account[0]])
            )
        return await self._locks(keys)
