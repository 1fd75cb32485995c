"""The fault suite: each test breaks one thing a real deployment meets (a killed process, a full
disk, an altered file) on the real local stack, and asserts on the final record (recording.json,
the archive's manifest, ``archive verify``). Each module's docstring says which fault it injects.

What this file holds, and all it should: the integration suite's orchestrator (``world``,
``http``, ``worker_db``) reused as it is, on PostgreSQL only (the deployed database; the
SQLite/PostgreSQL matrix is the integration suite's job, and each fault run is long).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from config import Settings
from tests.databases import empty_database
from tests.integration.conftest import engine, http, worker_db, world

__all__ = ["db_url", "engine", "http", "world", "worker_db"]


@pytest_asyncio.fixture(scope="session")
async def db_url(
    local_stack: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A fresh PostgreSQL database for this run."""
    async with empty_database("postgresql", local_stack, tmp_path_factory.mktemp("db")) as url:
        yield url
