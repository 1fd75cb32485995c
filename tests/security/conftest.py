"""The security regression tests run against the same real orchestrator as the integration tests
(its fixtures, imported), and make accounts and client addresses of their own, so the locks they
provoke hold back nobody else."""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from orchestrator.accounts.schemas import UserCreate
from orchestrator.accounts.service import new_user
from orchestrator.core.vocabulary import Role
from tests.integration.conftest import PASSWORD, World, corpus, db_url, engine, http, world

__all__ = ["PASSWORD", "corpus", "db_url", "engine", "http", "world"]

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
