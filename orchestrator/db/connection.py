"""Async engine, sessions and Alembic migrations, the same for SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

T = TypeVar("T")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_engine(url: str) -> AsyncEngine:
    """An async engine; SQLite gets foreign keys on, WAL and a busy timeout (several writers)."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_async_engine(url, pool_pre_ping=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[Any]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def _upgrade(connection: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _sqlite_dir(url: str) -> None:
    path = url.split("///", 1)[1] if url.startswith("sqlite") else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _migrate_blocking(url: str, revision: str) -> None:
    # Alembic reads its scripts from disk as it goes: the whole upgrade runs in a thread of its
    # own, on an engine and event loop of its own, so the caller's loop never waits on it.
    async def upgrade() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(_upgrade, revision)
        finally:
            await engine.dispose()

    _sqlite_dir(url)
    asyncio.run(upgrade())


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring ``engine``'s database to ``revision`` with the Alembic migrations (off the loop)."""
    url = engine.url.render_as_string(hide_password=False)
    await asyncio.to_thread(_migrate_blocking, url, revision)


@asynccontextmanager
async def open_db(
    url: str, *, migrate_first: bool = True
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """The database at ``url`` for the life of the block: one engine, brought to the newest
    migration, and a factory of sessions on it; the engine is disposed when the block ends.

    Args:
        url: the SQLAlchemy URL (``sqlite+aiosqlite://`` or ``postgresql+asyncpg://``).
        migrate_first: False for a process that only uses the schema (workers: the orchestrator
            and the command line migrate, and several worker processes start at once).
    """
    # SQLAlchemy resolves a SQLite file's path (the working directory) as it builds the engine.
    engine = await asyncio.to_thread(create_engine, url)
    try:
        if migrate_first:
            await migrate(engine)
        yield session_factory(engine)
    finally:
        await engine.dispose()


class BlockingDatabase:
    """The database for code that has no event loop (a Celery worker process): one engine, on
    an event loop of its own that lives as long as it does.

    Used from one thread at a time, as a worker process runs one task at a time.
    """

    def __init__(self, url: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._resources = AsyncExitStack()
        try:
            self._sessions = self._loop.run_until_complete(
                self._resources.enter_async_context(open_db(url, migrate_first=False))
            )
        except BaseException:
            self._loop.close()
            raise

    def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``work`` in one transaction, committed when it returns (rolled back if it raises)."""

        async def unit() -> T:
            async with self._sessions() as db:
                result = await work(db)
                await db.commit()
                return result

        return self._loop.run_until_complete(unit())

    def close(self) -> None:
        """Dispose of the engine and close the loop."""
        try:
            self._loop.run_until_complete(self._resources.aclose())
        finally:
            self._loop.close()
