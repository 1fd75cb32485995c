"""What a killed recorder's unfinished segment files still hold, listed by the next recorder.

A segment is written a page at a time (:mod:`media.encoder`), so the file of a writer killed
mid-segment holds all but its last second or so, and its comment header says which track set it
belongs to, its index and its start on the session clock. The recorder that takes the room over
lists each such file as the segment it is; a file that holds no readable audio (nothing reached
it, or it is not Ogg/Opus) is deleted, never listed nor archived.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import av

from media.encoder import RATE, SegmentTags
from media.manifest import Segment, TrackRecord
from storage.files import hash_file
from storage.spool import AUDIO_SEGMENT_SUFFIX, TRACKS_DIR

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Salvaged:
    """An unfinished segment file read back: the track set it belongs to, and what it holds."""

    track_set: str
    segment: Segment


def unlisted_audio(files: Iterable[str], tracks: Iterable[TrackRecord]) -> list[str]:
    """The speaker segment files among ``files`` that no track lists (sorted)."""
    listed = {s.path for t in tracks for s in t.segments}
    return sorted(
        n
        for n in files
        if n.startswith(f"{TRACKS_DIR}/") and n.endswith(AUDIO_SEGMENT_SUFFIX) and n not in listed
    )


def salvage_segment(directory: Path, relative: str) -> Salvaged | None:
    """The readable audio of the segment file ``relative`` (blocking: run it in a thread).

    Returns:
        None when the file holds no audio this recorder could place: empty, unreadable, or
        without the tags of :class:`media.encoder.SegmentTags`.
    """
    path = directory / relative
    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            tags = SegmentTags.from_metadata(stream.metadata)
            samples = sum(frame.samples for frame in container.decode(stream))
    except (av.FFmpegError, OSError, IndexError, ValueError):
        return None
    if tags is None or samples == 0:
        return None
    sha256, size = hash_file(path, sync=True)
    start_s = tags.start_s
    segment = Segment(
        index=tags.index, path=relative, start_s=start_s,
        end_s=round(start_s + samples / RATE, 6), duration_s=samples / RATE, sha256=sha256,
        bytes=size,
    )  # fmt: skip
    return Salvaged(tags.track_set, segment)


def with_salvaged(
    tracks: tuple[TrackRecord, ...], salvaged: Iterable[Salvaged]
) -> tuple[TrackRecord, ...]:
    """``tracks`` with each salvaged segment added to its track set, in index order."""
    known = {t.track_sid for t in tracks}
    # A set the earlier recorder never got to list (its manifest could not be written) is
    # listed as well as its files allow: the speaker is named after the directory.
    new: dict[str, TrackRecord] = {}
    by_set: dict[str, list[Segment]] = {}
    for s in salvaged:
        if s.track_set not in known and s.track_set not in new:
            name = s.segment.path.split("/")[1]
            new[s.track_set] = TrackRecord(s.track_set, name, name, "unknown", name)
        by_set.setdefault(s.track_set, []).append(s.segment)
    return tuple(_with_segments(t, by_set.get(t.track_sid, [])) for t in (*tracks, *new.values()))


def _with_segments(track: TrackRecord, more: list[Segment]) -> TrackRecord:
    segments = tuple(sorted([*track.segments, *more], key=lambda seg: seg.index))
    first = track.first_audio_s
    if first is None and segments:
        first = segments[0].start_s
    return replace(track, segments=segments, first_audio_s=first)
