"""The database: engine, migrations, and the tables."""

from __future__ import annotations

from orchestrator.db.connection import (
    BlockingDatabase,
    create_engine,
    migrate,
    open_db,
    session_factory,
)

__all__ = ["BlockingDatabase", "create_engine", "migrate", "open_db", "session_factory"]
