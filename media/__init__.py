"""The media agent: recorder and bridges in LiveKit rooms. Never imports the web layer.

This face holds only what the orchestrator needs and loads no native media library: the grants
table for LiveKit tokens, the wire protocol with the agent, and the recording manifest's types.
The agent, recorder, bridges and voice bot are imported from their own modules where used.
"""

from __future__ import annotations

from media.assignments import AGENT_HEADER, Assignment, BridgeAssignment
from media.errors import ManifestError, MediaError, RecorderError
from media.grants import (
    GRANTS,
    Grant,
    ParticipantKind,
    grant_for,
    promoted_observer_grant,
    video_grants,
)
from media.manifest import Gap, GapReason, RecordingManifest, Segment, TrackRecord
from media.tokens import mint_token

__all__ = [
    "AGENT_HEADER",
    "GRANTS",
    "Assignment",
    "BridgeAssignment",
    "Gap",
    "GapReason",
    "Grant",
    "ManifestError",
    "MediaError",
    "ParticipantKind",
    "RecorderError",
    "RecordingManifest",
    "Segment",
    "TrackRecord",
    "grant_for",
    "mint_token",
    "promoted_observer_grant",
    "video_grants",
]
