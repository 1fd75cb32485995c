"""The media agent's sign of life for container healthchecks (``tiepdan check media``).

The agent touches its beat file after each heartbeat the orchestrator answered; the check reads
the file's age. A stale file means the agent's loop is stuck or it cannot reach the orchestrator
(it keeps recording then, but takes no new room): either way an operator must see it.
"""

from __future__ import annotations

import hashlib
import socket
import time
from pathlib import Path

from config import Settings

__all__ = ["beat_age_s", "beat_file", "default_agent_id", "touch_beat"]


def default_agent_id(settings: Settings) -> str:
    """Stable across restarts of the same installation, so a restarted agent keeps its leases
    and is back in its rooms at once instead of waiting for them to expire."""
    return f"{socket.gethostname()}:{settings.paths.state_dir}"


def beat_file(settings: Settings, agent_id: str) -> Path:
    """Where the agent ``agent_id`` leaves its beat (agent ids hold '/' and ':')."""
    digest = hashlib.sha256(agent_id.encode()).hexdigest()[:16]
    return settings.paths.run_dir / f"media-agent-{digest}.beat"


def touch_beat(path: Path) -> None:
    """Record a beat now (blocking: call it from a thread)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


def beat_age_s(path: Path) -> float | None:
    """Seconds since the last beat, or None if the agent never beat."""
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return None
