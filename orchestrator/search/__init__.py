"""Archive search: Vietnamese full-text search over every transcript (SQLite FTS5 or PostgreSQL
full-text search), with the caller's scope, audited, and the playback page's data."""

from __future__ import annotations

from orchestrator.search.folding import fold
from orchestrator.search.indexer import CASE_CLASSIFICATIONS, index_session, index_transcript
from orchestrator.search.query import Query, QueryError, parse_query
from orchestrator.search.service import (
    ArchiveScope,
    SearchFilters,
    SearchResult,
    archive_scope,
    search,
    session_transcript,
)

__all__ = [
    "CASE_CLASSIFICATIONS",
    "ArchiveScope",
    "Query",
    "QueryError",
    "SearchFilters",
    "SearchResult",
    "archive_scope",
    "fold",
    "index_session",
    "index_transcript",
    "parse_query",
    "search",
    "session_transcript",
]
