"""The database: engine, migrations, and the tables."""

from __future__ import annotations

from orchestrator.db.connection import create_engine, migrate, session_factory

__all__ = ["create_engine", "migrate", "session_factory"]
