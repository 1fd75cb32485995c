"""What the orchestrator hands a media agent: shared by both sides of the lease API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# Media agents authenticate to the orchestrator with the deployment's agent token in this header.
AGENT_HEADER = "X-Tiepdan-Agent"


@dataclass(frozen=True)
class Assignment:
    """A room an agent records: where, since when (the session clock's anchor), still live?"""

    session_id: int
    room_name: str
    started_at: datetime
    live: bool
