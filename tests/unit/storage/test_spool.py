"""The spool layout: every file's name, and which of them the archive takes, where, and for how
long. Names are spelled out here on purpose: this is the layout's specification."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.records import RecordType, object_key, session_prefix
from storage.spool import (
    TRANSCRIPT_SUFFIXES,
    SessionSpool,
    archived_as,
    missing_files,
    segment_name,
    track_dir_name,
    transcript_name,
)
from transcription.formats import FORMATS

MEDIA, TRANSCRIPT = RecordType.MEDIA, RecordType.TRANSCRIPT


@pytest.mark.parametrize(
    ("name", "record_type", "key"),
    [
        ("recording.json", RecordType.METADATA, "2026/79/42/recording.json"),
        ("tracks/alice/TR_a-00000.opus", MEDIA, "2026/79/42/audio/tracks/alice/TR_a-00000.opus"),
        ("tracks/alice/TR_v-00000.mp4", MEDIA, "2026/79/42/video/tracks/alice/TR_v-00000.mp4"),
        ("mixed.opus", MEDIA, "2026/79/42/audio/mixed.opus"),
        ("transcript.json", TRANSCRIPT, "2026/79/42/transcript.json"),
        ("transcript.vtt", TRANSCRIPT, "2026/79/42/transcript.vtt"),
        ("minutes.docx", RecordType.MINUTES, "2026/79/42/minutes.docx"),
        # Anything else that lands in a spool is kept rather than lost unseen.
        ("notes.txt", RecordType.METADATA, "2026/79/42/notes.txt"),
    ],
)
def test_archived_files_keep_their_key_and_retention_class(
    name: str, record_type: RecordType, key: str
) -> None:
    where = archived_as(name)
    assert where is not None and where.record_type == record_type
    assert object_key(session_prefix(2026, "79", 42), where.path) == key


@pytest.mark.parametrize(
    "name",
    [
        "pipeline/TR_a.json",  # a pipeline step's scratch state
        "recording.partial.json",  # the recorder's copy in progress
        ".transcript.json.tmp",  # atomic writes in flight
        "tracks/alice/.TR_a-00001.opus.tmp",
    ],
)
def test_scratch_and_temporary_files_are_not_archived(name: str) -> None:
    assert archived_as(name) is None


def test_missing_files_names_failed_outputs() -> None:
    assert missing_files(["recording.json", "mixed.opus", "transcript.json", "transcript.vtt",
                          "transcript.srt", "transcript.txt"]) == ("minutes.docx",)  # fmt: skip


def test_the_transcript_names_are_the_pipeline_formats() -> None:
    assert {suffix for suffix, _render in FORMATS.values()} == set(TRANSCRIPT_SUFFIXES)
    with pytest.raises(ValueError, match="no transcript format"):
        transcript_name(".docx")


def test_session_spool_paths() -> None:
    spool = SessionSpool.of_manifest("/spool/7/recording.json")
    root = Path("/spool/7")
    assert spool.directory == root
    assert spool.manifest == root / "recording.json"
    assert spool.partial_manifest == root / "recording.partial.json"
    assert spool.track_result("TR_a") == root / "pipeline" / "TR_a.json"
    assert spool.transcript(".vtt") == root / "transcript.vtt"
    assert spool.mixed == root / "mixed.opus"
    assert spool.minutes == root / "minutes.docx"
    assert segment_name("citizen-7", "TR_a", 3, ".opus") == "tracks/citizen-7/TR_a-00003.opus"


def test_a_spool_lists_what_the_archive_takes(tmp_path: Path) -> None:
    spool = SessionSpool(tmp_path)
    for name in ("recording.json", "tracks/a/TR_a-00000.opus", "pipeline/TR_a.json",
                 "recording.partial.json", ".minutes.docx.tmp"):  # fmt: skip
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    assert list(spool.archived_files()) == ["recording.json", "tracks/a/TR_a-00000.opus"]
    assert list(spool.track_results()) == ["TR_a"]
    assert SessionSpool(tmp_path / "absent").files() == []


def test_track_dir_names_are_safe_and_distinct() -> None:
    assert track_dir_name("citizen-7") == "citizen-7"
    assert track_dir_name("").startswith("_-")
    a, b = track_dir_name("a/b"), track_dir_name("a?b")
    assert a.startswith("a_b-") and b.startswith("a_b-") and a != b
    assert "/" not in track_dir_name("../../etc") and ".." not in track_dir_name("../../etc")
    assert track_dir_name("Nguyễn") != track_dir_name("Nguyen")
