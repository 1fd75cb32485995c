"""The security regression tests run against a real orchestrator built as the integration tests'
is (their fixtures, imported), and make accounts and client addresses of their own, so the locks
they provoke hold back nobody else."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from config import Settings
from orchestrator.accounts.schemas import UserCreate
from orchestrator.accounts.service import new_user
from orchestrator.core.vocabulary import Role
from tests.integration.conftest import PASSWORD, World, corpus, db_url, engine, http, serve_world

__all__ = ["PASSWORD", "corpus", "db_url", "engine", "http", "world"]

# Beside the integration tests' orchestrator (on web.port, Redis database 1), when both run in
# one session: fixtures imported here are this directory's own instances.
SECURITY_PORT_OFFSET = 1
SECURITY_REDIS_DB = 3


@pytest_asyncio.fixture(scope="session")
async def world(local_stack: Settings, db_url: str, engine: AsyncEngine) -> AsyncIterator[World]:
    """The orchestrator for the security tests: a database, a port and a Redis database (the
    sign-in throttle's state) of their own."""
    port = local_stack.web.port + SECURITY_PORT_OFFSET
    async with serve_world(local_stack, db_url, engine, port=port, redis_db=SECURITY_REDIS_DB) as w:
        yield w


NewAccount = Callable[[], Awaitable[str]]
Browser = Callable[[], aiohttp.ClientSession]


@pytest.fixture
def new_account(world: World) -> NewAccount:
    """Make an officer account of this test's own (password ``PASSWORD``); its user name."""

    async def make() -> str:
        username = f"sec.{uuid.uuid4().hex[:10]}"
        body = UserCreate(username=username, display_name="Cán bộ thử", password=PASSWORD,
                          role=Role.OFFICER, agency_id=world.agencies["ninh-binh"])  # fmt: skip
        async with world.db() as db:
            db.add(new_user(body))
            await db.commit()
        return username

    return make


@pytest.fixture
def own_address() -> str:
    """A loopback address of this test's own (127.0.0.0/8 is all loopback)."""
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"


@pytest.fixture
def browser_from(own_address: str) -> Browser:
    """A cookie-keeping client whose connections come from ``own_address``, so the address its
    sign-in attempts are counted under is its alone."""

    def open_browser() -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(local_addr=(own_address, 0)),
            cookie_jar=aiohttp.CookieJar(unsafe=True),
        )

    return open_browser
