"""The orchestrator's own event metrics (in the process's default registry). What the database
already knows (live sessions, recorders, backlogs) is read at scrape time instead
(:mod:`orchestrator.observability.db_gauges`)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

FAILED_LOGINS = Counter(
    "tiepdan_failed_logins",
    "Sign-ins refused: a wrong name or password (wrong), or refused by the throttle (locked).",
    ["outcome"],
)
SEARCH_SECONDS = Histogram(
    "tiepdan_search_seconds",
    "Archive searches, from the request to the result.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
