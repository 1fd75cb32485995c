"""Throwaway databases of either backend, for the fixtures and for tests that need their own."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

from config import Settings


@contextlib.asynccontextmanager
async def empty_database(backend: str, settings: Settings, directory: Path) -> AsyncIterator[str]:
    """The URL of a new, empty database of ``backend`` (``sqlite``: a file in ``directory``;
    ``postgresql``: on the local stack's server, dropped afterwards)."""
    name = f"tiepdan_test_{uuid.uuid4().hex[:10]}"
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{directory / f'{name}.db'}"
        return
    port = settings.db.local_postgres_port
    admin = await asyncpg.connect(host="127.0.0.1", port=port, user="tiepdan", database="postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+asyncpg://tiepdan@127.0.0.1:{port}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
