"""The media agent: recorder and bridges in LiveKit rooms. Never imports the web layer."""

from __future__ import annotations

from media.clock import SessionClock
from media.errors import ManifestError, MediaError, RecorderError
from media.manifest import Gap, GapReason, RecordingManifest, Segment, TrackRecord
from media.recorder import RoomRecorder
from media.segment_writer import SegmentWriter
from media.tokens import mint_token, recorder_grants
from media.voice_bot import VoiceBot

__all__ = [
    "Gap",
    "GapReason",
    "ManifestError",
    "MediaError",
    "RecorderError",
    "RecordingManifest",
    "RoomRecorder",
    "Segment",
    "SegmentWriter",
    "SessionClock",
    "TrackRecord",
    "VoiceBot",
    "mint_token",
    "recorder_grants",
]
