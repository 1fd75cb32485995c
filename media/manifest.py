"""What a recording holds: per-speaker tracks of segments and gaps on the session clock.

Plain frozen dataclasses and pure functions; reading and writing files is the recorder's job.

``recording.json`` (and ``recording.partial.json``, written while recording) is UTF-8 JSON of
schema version 1::

    {
      "version": 1,
      "room": "ninh-binh-42",
      "session_started_at": "2025-01-06T01:30:00+00:00",   # ISO 8601, UTC: t = 0 of the clock
      "finalized_at": "2025-01-06T03:12:09+00:00",         # null in a partial manifest
      "tracks": [
        {
          "track_sid": "TR_AMkq...",            # the first LiveKit track of this set
          "participant_identity": "citizen-7",
          "display_name": "Nguyễn Văn A",
          "role": "citizen",                    # the participant's `kind` attribute
          "connection_point": "UBND xã Gia Viễn",
          "source": "microphone",               # LiveKit track source
          "first_audio_s": 90.04,               # null: subscribed, never sent audio
          "segments": [
            {"index": 0,                        # increasing; may skip a number after a crash
             "path": "tracks/citizen-7/TR_AMkq...-00000.opus",   # relative to the manifest
             "start_s": 90.04, "end_s": 100.04, "duration_s": 10.0,
             "sha256": "<64 hex digits>", "bytes": 40321}
          ],
          "gaps": [{"start_s": 100.04, "end_s": 112.5, "reason": "muted"}]
        }
      ],
      "video_tracks": []                        # cameras, only with media.video: the same
    }                                           # fields, source "camera", .mp4 segments

Times are seconds on the session clock (:class:`media.clock.SessionClock`). A segment is Ogg/Opus,
48 kHz mono, at most 10 s; ``duration_s`` counts the samples it holds. A gap lies between two
segments of a track: the time from the last sample before it to the first sample after it, with
``reason`` one of ``muted``, ``unsubscribed`` (the participant left or stopped publishing),
``reconnecting`` (the recorder's own connection), ``sfu_restart`` (the SFU lost the room, having
restarted, and the recorder came back to the room recreated), ``recorder_restart`` (a recorder
died or its agent was replaced: from the end of the last segment it left readable, or from
``first_audio_s`` when it left none, to the first sample after the restart) or ``storage_error``
(a segment file could not be written: from the start of the segment given up to the first sample
written again). A ``subscribing`` gap comes before a track's first segment: from the moment the
recorder learnt the track was published to its subscription, when nothing of it could reach the
recorder (a speaker who starts at once loses that much; a track the room had before the recorder
came in has none). A ``reconnecting`` or ``sfu_restart`` gap starts when the outage does, whether
the speaker was speaking or not. A gap for a loss (``subscribing``, ``reconnecting``,
``sfu_restart``, ``recorder_restart``, ``storage_error``) still open when the recording ends
ends then; a ``muted`` or ``unsubscribed`` one is dropped (nothing was lost). A segment listed
by a recorder that took over after a crash may be the readable start of a file its writer never
closed (:mod:`media.salvage`). Time between segments that no gap covers is time the track was
live but carried nothing (digital silence: a publisher that stopped sending). A camera segment
(``media.video`` on) is H.264 in MP4, at most 640×360 and 15 fps; ``first_audio_s`` is then its
first frame's time. A manifest without ``video_tracks`` (written before cameras could be
recorded) has none. A version this code does not know is refused, never guessed at.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, cast, get_args

from media.errors import ManifestError

SCHEMA_VERSION = 1

GapReason = Literal[
    "muted",
    "unsubscribed",
    "subscribing",
    "reconnecting",
    "sfu_restart",
    "recorder_restart",
    "storage_error",
]
GAP_REASONS: frozenset[str] = frozenset(get_args(GapReason))
LOSS_REASONS: frozenset[GapReason] = frozenset(
    {"subscribing", "reconnecting", "sfu_restart", "recorder_restart", "storage_error"}
)
"""Gaps where media was sent and not recorded (the others: nothing was sent)."""


@dataclass(frozen=True)
class Segment:
    """One closed, complete Ogg/Opus file of a track."""

    index: int
    path: str
    start_s: float
    end_s: float
    duration_s: float
    sha256: str
    bytes: int


@dataclass(frozen=True)
class Gap:
    """Time on a track that holds no audio, and why."""

    start_s: float
    end_s: float
    reason: GapReason


@dataclass(frozen=True)
class TrackRecord:
    """One speaker's audio: every segment of one participant's track source, across reconnects."""

    track_sid: str
    participant_identity: str
    display_name: str
    role: str
    connection_point: str
    segments: tuple[Segment, ...] = ()
    gaps: tuple[Gap, ...] = ()
    first_audio_s: float | None = None
    source: str = "microphone"

    @property
    def duration_s(self) -> float:
        """Seconds of audio in all segments."""
        return sum(s.duration_s for s in self.segments)


@dataclass(frozen=True)
class RecordingManifest:
    """Every track of one room's recording; ``finalized_at`` is ``None`` while recording."""

    room: str
    session_started_at: datetime
    finalized_at: datetime | None
    tracks: tuple[TrackRecord, ...] = field(default_factory=tuple)
    video_tracks: tuple[TrackRecord, ...] = field(default_factory=tuple)
    version: int = SCHEMA_VERSION

    def to_json(self) -> str:
        """The manifest as schema-versioned JSON (see the module docstring)."""
        data = {
            "version": self.version,
            "room": self.room,
            "session_started_at": self.session_started_at.isoformat(),
            "finalized_at": self.finalized_at.isoformat() if self.finalized_at else None,
            "tracks": [_track_dict(t) for t in self.tracks],
            "video_tracks": [_track_dict(t) for t in self.video_tracks],
        }
        return json.dumps(data, ensure_ascii=False, indent=2)

    @classmethod
    def from_json(cls, text: str) -> RecordingManifest:
        """Parse a manifest written by :meth:`to_json`.

        Raises:
            ManifestError: the text is not a manifest of a schema version this code knows.
        """
        try:
            data = json.loads(text)
            version = data["version"]
            if version != SCHEMA_VERSION:
                raise ManifestError(f"unknown recording manifest version {version!r}")
            finalized = data["finalized_at"]
            return cls(
                room=str(data["room"]),
                session_started_at=datetime.fromisoformat(data["session_started_at"]),
                finalized_at=datetime.fromisoformat(finalized) if finalized else None,
                tracks=tuple(_track(t) for t in data["tracks"]),
                video_tracks=tuple(_track(t) for t in data.get("video_tracks", [])),
                version=version,
            )
        except (ValueError, KeyError, TypeError) as e:
            raise ManifestError(f"malformed recording manifest: {e}") from e


def participant_labels(
    identity: str, name: str, attributes: Mapping[str, str]
) -> tuple[str, str, str]:
    """``(display_name, role, connection_point)`` of a participant.

    The orchestrator puts ``kind`` and ``connection_point`` in every token's attributes; a
    participant that joined some other way is still recorded, labelled as well as it can be.
    """
    display_name = name or identity
    role = attributes.get("kind") or "unknown"
    connection_point = attributes.get("connection_point") or display_name
    return display_name, role, connection_point


def _track_dict(t: TrackRecord) -> dict[str, Any]:
    return {
        "track_sid": t.track_sid,
        "participant_identity": t.participant_identity,
        "display_name": t.display_name,
        "role": t.role,
        "connection_point": t.connection_point,
        "source": t.source,
        "first_audio_s": t.first_audio_s,
        "segments": [vars(s) for s in t.segments],
        "gaps": [vars(g) for g in t.gaps],
    }


def _track(d: dict[str, Any]) -> TrackRecord:
    gaps = []
    for g in d["gaps"]:
        if g["reason"] not in GAP_REASONS:
            raise ManifestError(f"unknown gap reason {g['reason']!r}")
        gaps.append(Gap(float(g["start_s"]), float(g["end_s"]), cast(GapReason, g["reason"])))
    first = d["first_audio_s"]
    return TrackRecord(
        track_sid=str(d["track_sid"]),
        participant_identity=str(d["participant_identity"]),
        display_name=str(d["display_name"]),
        role=str(d["role"]),
        connection_point=str(d["connection_point"]),
        source=str(d["source"]),
        first_audio_s=None if first is None else float(first),
        segments=tuple(Segment(**s) for s in d["segments"]),
        gaps=tuple(gaps),
    )
