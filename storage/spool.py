"""A session's spool directory: the name of every file in it, and which of them the archive keeps.

One directory per session (the media agent's ``<spool>/<session id>/``, recorded in the database
as the path of its ``recording.json``), written first by the recorder, then by the pipeline, and
emptied once the archive holds it. Names are relative POSIX paths inside it:

==========================================  ===========================  =======================
file                                        written by                   archived as
==========================================  ===========================  =======================
``recording.partial.json``                  the recorder, while on       not archived (scratch)
``recording.json``                          the recorder, at the end     metadata
``tracks/<identity>/<track>-<n:05d>.opus``  the recorder: a speaker      media, under ``audio/``
``tracks/<identity>/<track>-<n:05d>.mp4``   the recorder: a camera       media, under ``video/``
``pipeline/<track>.json``                   the pipeline, per track      not archived (scratch)
``pipeline/premix-<inputs>.opus``           the pipeline, mixing ahead   not archived (scratch)
``pipeline/premix-<inputs>.lock``           held while that is made      not archived (scratch)
``transcript.{json,vtt,srt,txt}``           the pipeline's merge step    transcript
``mixed.opus``                              the pipeline's mix step      media, under ``audio/``
``minutes.docx``                            the pipeline's minutes step  minutes
``incidents/tracks/...``                    the pipeline: a segment      media, under
                                            found altered, moved aside   ``incidents/``
``.<name>.<id>.tmp``                        any atomic write             not archived
==========================================  ===========================  =======================

Any other file is archived as metadata: what lands in a spool is kept rather than lost unseen.

A segment that no longer has the size and SHA-256 that ``recording.json`` gives it was altered
after the recorder closed it. The pipeline moves it to ``incidents/<its name>`` before anything
reads it, so it is archived as what it is, evidence of an incident, under ``incidents/``, never
as the recording under ``audio/`` or ``video/`` (:mod:`orchestrator.pipeline.integrity`).

Scratch files are not archived (a deliberate decision). ``pipeline/<track>.json`` is one step's
working state: one track's transcript or the reason it failed, kept so that a redelivered job does
not transcribe the track again, and read only by the merge and mix steps of the same run. A premix
is the mix made while the last tracks were still transcribed, named by the files it holds; the mix
step takes it as ``mixed.opus`` when those are still the files to mix.
Everything in it that is part of the record is in ``transcript.json`` and ``mixed.opus``, which
are archived. Archived, it was signed into the record under the same ten-year COMPLIANCE retention
(which nobody can shorten) as if it were the record, in a format that nothing but the pipeline
reads. ``recording.partial.json`` is the recorder's copy in progress, replaced by
``recording.json`` when the recording ends: one still there is stale. Scratch files are deleted
together with the archived local copies (nothing reads them once the session is archived), so an
archived spool leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, overload

from storage.files import files_under
from storage.records import RecordType

# The recorder's files (media.recorder, media.segment_writer, media.video_segments).
RECORDING_MANIFEST: Final = "recording.json"
PARTIAL_MANIFEST: Final = "recording.partial.json"
TRACKS_DIR: Final = "tracks"
AUDIO_SEGMENT_SUFFIX: Final = ".opus"
VIDEO_SEGMENT_SUFFIX: Final = ".mp4"
# The pipeline's (orchestrator.pipeline.steps).
PIPELINE_DIR: Final = "pipeline"
TRANSCRIPT_STEM: Final = "transcript"
TRANSCRIPT_SUFFIXES: Final = (".json", ".vtt", ".srt", ".txt")
MIXED_AUDIO: Final = "mixed.opus"
MINUTES: Final = "minutes.docx"
# Altered recorded files, moved aside by the pipeline (orchestrator.pipeline.integrity).
INCIDENTS_DIR: Final = "incidents"
# Where media goes under a session's prefix in the archive.
AUDIO_FOLDER: Final = "audio/"
VIDEO_FOLDER: Final = "video/"


def transcript_name(suffix: str) -> str:
    """``transcript.json``, ``.vtt``, ``.srt`` or ``.txt``."""
    if suffix not in TRANSCRIPT_SUFFIXES:
        raise ValueError(f"no transcript format {suffix!r}")
    return TRANSCRIPT_STEM + suffix


EXPECTED_FILES: Final = (
    RECORDING_MANIFEST,
    *(transcript_name(suffix) for suffix in TRANSCRIPT_SUFFIXES),
    MIXED_AUDIO,
    MINUTES,
)
"""What a session that went through every pipeline step holds, besides its tracks."""


def track_dir_name(identity: str) -> str:
    """A directory name for ``identity``: readable, with nothing a path could misread."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", identity) or "_"
    if safe != identity:
        # Two identities that map to the same safe name still get different directories.
        safe += "-" + hashlib.sha256(identity.encode()).hexdigest()[:8]
    return safe


def track_dir(identity: str) -> str:
    """``tracks/<identity>``: the directory of one participant's segment files."""
    return f"{TRACKS_DIR}/{track_dir_name(identity)}"


def segment_name(identity: str, track_sid: str, index: int, suffix: str) -> str:
    """``tracks/<identity>/<track_sid>-<index:05d><suffix>``: one recorded segment file."""
    return f"{track_dir(identity)}/{track_sid}-{index:05d}{suffix}"


def incident_name(name: str) -> str:
    """``incidents/<name>``: where the altered recorded file ``name`` is moved aside."""
    return f"{INCIDENTS_DIR}/{name}"


def track_result_name(track_sid: str) -> str:
    """``pipeline/<track_sid>.json``: one track's transcription result (scratch)."""
    return f"{PIPELINE_DIR}/{track_sid}.json"


def premix_name(inputs: str, suffix: str = AUDIO_SEGMENT_SUFFIX) -> str:
    """``pipeline/premix-<inputs>.opus``: a mix made ahead of its step, of the files ``inputs``
    names (a digest of their list; scratch); ``.lock`` is held while it is made."""
    return f"{PIPELINE_DIR}/premix-{inputs}{suffix}"


@dataclass(frozen=True)
class ArchivedAs:
    """How one spool file is archived.

    Attributes:
        record_type: its retention class.
        path: where it goes under the session's prefix (``audio/mixed.opus``).
    """

    record_type: RecordType
    path: str


def archived_as(name: str) -> ArchivedAs | None:
    """How the spool file ``name`` is archived; None for scratch and temporary files."""
    parts = name.split("/")
    if parts[-1].startswith(".") or parts[0] == PIPELINE_DIR or name == PARTIAL_MANIFEST:
        return None
    folder = ""
    if name == MIXED_AUDIO or (parts[0] == TRACKS_DIR and name.endswith(AUDIO_SEGMENT_SUFFIX)):
        folder = AUDIO_FOLDER
    elif parts[0] == TRACKS_DIR and name.endswith(VIDEO_SEGMENT_SUFFIX):
        folder = VIDEO_FOLDER
    return ArchivedAs(_record_type(name), folder + name)


def _record_type(name: str) -> RecordType:
    if name.endswith((AUDIO_SEGMENT_SUFFIX, VIDEO_SEGMENT_SUFFIX)):  # speakers, cameras, the mix
        return RecordType.MEDIA
    if name.startswith(f"{TRANSCRIPT_STEM}."):
        return RecordType.TRANSCRIPT
    if name == MINUTES:
        return RecordType.MINUTES
    return RecordType.METADATA


def missing_files(present: Iterable[str]) -> tuple[str, ...]:
    """The expected session files that are not among ``present`` (a failed pipeline step)."""
    have = set(present)
    return tuple(name for name in EXPECTED_FILES if name not in have)


class _SpoolFile:
    """A file of fixed name in a session's spool: read on a spool, the attribute is its path."""

    def __init__(self, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, spool: None, owner: type[SessionSpool]) -> _SpoolFile: ...
    @overload
    def __get__(self, spool: SessionSpool, owner: type[SessionSpool]) -> Path: ...
    def __get__(self, spool: SessionSpool | None, owner: type[SessionSpool]) -> Path | _SpoolFile:
        return self if spool is None else spool.directory / self.name


@dataclass(frozen=True)
class SessionSpool:
    """One session's spool directory, and the path of each of its files."""

    directory: Path

    manifest = _SpoolFile(RECORDING_MANIFEST)
    """``recording.json``: the recording, finalized."""
    partial_manifest = _SpoolFile(PARTIAL_MANIFEST)
    """``recording.partial.json``: the recording so far, while the recorder runs."""
    mixed = _SpoolFile(MIXED_AUDIO)
    """``mixed.opus``: every speaker mixed, for playback."""
    minutes = _SpoolFile(MINUTES)
    """``minutes.docx``: the session's minutes."""

    @classmethod
    def of_manifest(cls, manifest_path: Path | str) -> SessionSpool:
        """The spool of the recording whose ``recording.json`` is at ``manifest_path``."""
        return cls(Path(manifest_path).parent)

    def track_result(self, track_sid: str) -> Path:
        """One track's transcript (or failure), kept until the session's transcript is made."""
        return self.directory / track_result_name(track_sid)

    def track_results(self) -> dict[str, Path]:
        """Every track result written so far, by track id."""
        return {p.stem: p for p in sorted((self.directory / PIPELINE_DIR).glob("*.json"))}

    def premix(self, inputs: str) -> Path:
        """The mix of the files ``inputs`` names, made ahead of the mix step."""
        return self.directory / premix_name(inputs)

    def premix_lock(self, inputs: str) -> Path:
        """Locked (``flock``) while that premix is made."""
        return self.directory / premix_name(inputs, ".lock")

    def premixes(self) -> list[Path]:
        """Every premix made."""
        return sorted(self.directory.glob(premix_name("*")))

    def transcript(self, suffix: str) -> Path:
        """``transcript.json``, ``.vtt``, ``.srt`` or ``.txt``."""
        return self.directory / transcript_name(suffix)

    def files(self) -> list[str]:
        """Every file now in the spool (sorted names; none when the directory is absent)."""
        return files_under(self.directory)

    def archived_files(self) -> dict[str, ArchivedAs]:
        """The files the archive takes, by name (sorted), and how each is archived."""
        return {n: a for n in self.files() if (a := archived_as(n)) is not None}
