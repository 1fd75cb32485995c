"""Recording directories like the media agent's: per-speaker Ogg/Opus segment files at known
session times, and the ``recording.json`` manifest that lists them (``media.manifest``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from media.manifest import RecordingManifest, Segment, TrackRecord
from storage.files import hash_file
from storage.spool import AUDIO_SEGMENT_SUFFIX, SessionSpool, segment_name, track_dir
from tests.audio import duration_s, opus_slice, speak

SEGMENT_S = 10.0  # the recorder's longest segment file


@dataclass(frozen=True)
class SpokenTrack:
    """One speaker's track: espeak-ng lines at session times, recorded audio, or raw segment
    file contents.

    Attributes:
        lines: ``(start_s, text)`` spoken by espeak-ng, each cut into ≤ 10 s segment files.
        audio: ``(start_s, wav)`` audio files placed at session times, each cut likewise (a
            whole track from the session's start, silences included, as the recorder keeps it).
        raw_files: ``(start_s, bytes)`` written as they are (a corrupt or empty file).
    """

    identity: str
    display_name: str
    role: str
    connection_point: str
    lines: tuple[tuple[float, str], ...] = ()
    audio: tuple[tuple[float, Path], ...] = ()
    raw_files: tuple[tuple[float, bytes], ...] = field(default=())

    @property
    def track_sid(self) -> str:
        return f"TR_{self.identity.replace('-', '')}"

    def segment_path(self, directory: Path, index: int) -> Path:
        """Where the recorder puts the track's segment file ``index`` in ``directory``."""
        name = segment_name(self.identity, self.track_sid, index, AUDIO_SEGMENT_SUFFIX)
        return directory / name


def _segment(directory: Path, path: Path, index: int, start_s: float, length: float) -> Segment:
    sha256, size = hash_file(path)
    return Segment(
        index=index,
        path=str(path.relative_to(directory)),
        start_s=round(start_s, 3),
        end_s=round(start_s + length, 3),
        duration_s=round(length, 3),
        sha256=sha256,
        bytes=size,
    )


def _cut(
    directory: Path, track: SpokenTrack, wav: Path, start_s: float, segments: list[Segment]
) -> None:
    """Append ``wav``, placed at ``start_s``, to ``segments`` as ≤ 10 s Ogg/Opus files."""
    total = duration_s(wav)
    cut = 0.0
    while cut < total - 0.05:
        length = min(SEGMENT_S, total - cut)
        path = opus_slice(wav, track.segment_path(directory, len(segments)), cut, length)
        segments.append(_segment(directory, path, len(segments), start_s + cut, length))
        cut += length


def write_recording(
    directory: Path, room: str, started_at: datetime, tracks: list[SpokenTrack]
) -> Path:
    """Write every track's segment files and the manifest; the manifest's path."""
    records = []
    for track in tracks:
        (directory / track_dir(track.identity)).mkdir(parents=True, exist_ok=True)
        segments: list[Segment] = []

        for start_s, text in track.lines:
            wav = speak(text, directory / f"{track.identity}-{len(segments)}.wav", voice="en-us")
            _cut(directory, track, wav, start_s, segments)
            wav.unlink()
        for start_s, wav in track.audio:
            _cut(directory, track, wav, start_s, segments)
        for start_s, data in track.raw_files:
            path = track.segment_path(directory, len(segments))
            path.write_bytes(data)
            segments.append(_segment(directory, path, len(segments), start_s, 5.0))
        records.append(
            TrackRecord(
                track_sid=track.track_sid,
                participant_identity=track.identity,
                display_name=track.display_name,
                role=track.role,
                connection_point=track.connection_point,
                segments=tuple(segments),
                first_audio_s=segments[0].start_s if segments else None,
            )
        )
    manifest = RecordingManifest(room, started_at, started_at, tuple(records))
    path = SessionSpool(directory).manifest
    path.write_text(manifest.to_json(), encoding="utf-8")
    return path
