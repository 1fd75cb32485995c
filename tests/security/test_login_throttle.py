"""Finding 5, the throttle itself: on the real Redis, its locks lift and grow, a correct password
clears the account, parallel attempts cannot overrun a tier; and its pure parts (the client
address behind proxies, the keys, the Vietnamese durations, the settings)."""

from __future__ import annotations

import asyncio
import ipaddress
import random
import uuid

import pytest
from pydantic import ValidationError

from config import Settings
from config.settings import SecuritySettings
from orchestrator.accounts.sign_in import lock_message
from orchestrator.web.login_throttle import (
    Lock,
    LockScope,
    LoginThrottle,
    forwarded_client,
    throttle_key,
)


def with_limits(settings: Settings, account: str, address: str = "1000/hour") -> Settings:
    security = settings.security.model_copy(
        update={"login_limits_per_account": account, "login_limits_per_address": address}
    )
    return settings.model_copy(update={"security": security})


def fresh() -> tuple[str, str]:
    """An account name and a client address no other test counts under."""
    return f"thu.{uuid.uuid4().hex}", f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.1"


async def fail(throttle: LoginThrottle, name: str, address: str) -> list[Lock]:
    assert await throttle.admit(name, address) is None
    return await throttle.settle(name, address, succeeded=False)


@pytest.mark.asyncio(loop_scope="session")
async def test_a_lock_lifts_and_the_next_tier_locks_for_longer(local_stack: Settings) -> None:
    name, address = fresh()
    async with LoginThrottle.open(with_limits(local_stack, "2/2 seconds;3/minute")) as throttle:
        assert await fail(throttle, name, address) == []
        (lock,) = await fail(throttle, name, address)
        assert (lock.scope, lock.key, lock.limit) == (LockScope.ACCOUNT, name, "2 per 2 second")
        assert 1 <= lock.retry_after_s <= 2
        refused = await throttle.admit(name, address)
        assert refused is not None and refused.scope is LockScope.ACCOUNT
        await asyncio.sleep(2.1)
        # The first tier has room again; its one more failure uses up the minute's tier.
        (longer,) = await fail(throttle, name, address)
        assert longer.limit == "3 per 1 minute" and 55 <= longer.retry_after_s <= 60


@pytest.mark.asyncio(loop_scope="session")
async def test_a_correct_password_clears_the_account_not_the_address(
    local_stack: Settings,
) -> None:
    name, address = fresh()
    limits = with_limits(local_stack, "2/minute", address="4/minute")
    async with LoginThrottle.open(limits) as throttle:
        await fail(throttle, name, address)
        assert await throttle.admit(name, address) is None
        assert await throttle.settle(name, address, succeeded=True) == []
        assert await fail(throttle, name, address) == []  # the account started over
        locks = await fail(throttle, name, address)  # the address had counted all four
        assert {(lock.scope, lock.key) for lock in locks} == {
            (LockScope.ACCOUNT, name), (LockScope.ADDRESS, address)
        }  # fmt: skip


@pytest.mark.asyncio(loop_scope="session")
async def test_parallel_attempts_cannot_overrun_a_tier(local_stack: Settings) -> None:
    name, address = fresh()
    async with LoginThrottle.open(with_limits(local_stack, "3/minute")) as throttle:
        admitted = await asyncio.gather(*(throttle.admit(name, address) for _ in range(12)))
    assert sum(lock is None for lock in admitted) == 3


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "proxies", "client"),
    [
        ("203.0.113.7", [], [], "203.0.113.7"),
        # Without trusted proxies, the header is the client's own word: ignored.
        ("203.0.113.7", ["198.51.100.1"], [], "203.0.113.7"),
        ("10.0.0.2", ["198.51.100.1"], ["10.0.0.0/8"], "198.51.100.1"),
        # What the client wrote itself lies left of what the proxy added.
        ("10.0.0.2", ["6.6.6.6, 198.51.100.1"], ["10.0.0.0/8"], "198.51.100.1"),
        ("10.0.0.2", ["6.6.6.6", "198.51.100.1, 10.0.0.3"], ["10.0.0.0/8"], "198.51.100.1"),
        ("10.0.0.2", [], ["10.0.0.0/8"], "10.0.0.2"),
    ],
)
def test_the_client_address_behind_trusted_proxies(
    peer: str, forwarded_for: list[str], proxies: list[str], client: str
) -> None:
    networks = [ipaddress.ip_network(p) for p in proxies]
    assert forwarded_client(peer, forwarded_for, networks) == client


def test_an_ipv6_client_is_counted_by_its_64() -> None:
    assert throttle_key(LockScope.ADDRESS, "2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert throttle_key(LockScope.ADDRESS, "203.0.113.7") == "203.0.113.7"
    assert throttle_key(LockScope.ACCOUNT, "x" * 500) == "x" * 100


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(1, "1 phút"), (61, "2 phút"), (900, "15 phút"), (3600, "1 giờ"), (5400, "1 giờ 30 phút")],
)
def test_the_lock_says_for_how_long(seconds: int, said: str) -> None:
    message = lock_message(Lock(LockScope.ACCOUNT, "a", seconds, "5 per 15 minute"))
    assert message.endswith(f"Hãy thử lại sau {said}.")


def test_unreadable_limits_are_a_settings_error() -> None:
    with pytest.raises(ValidationError, match="login_limits_per_account"):
        SecuritySettings(login_limits_per_account="5 per fortnight")
