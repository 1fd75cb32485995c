"""Pure helpers of the recorder: the manifest format, participant labels, room metadata and the
session clock (track directory names: tests/unit/storage/test_spool.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from livekit import rtc

from media.clock import SessionClock
from media.errors import ManifestError
from media.manifest import Gap, RecordingManifest, Segment, TrackRecord, participant_labels
from media.recorder import recording_metadata
from media.segment_writer import SegmentWriter
from media.video_segments import fitted_size, to_av_frame

STARTED = datetime(2025, 1, 6, 1, 30, tzinfo=UTC)


def manifest(finalized: datetime | None = None) -> RecordingManifest:
    segment = Segment(
        index=0, path="tracks/citizen-7/TR_a-00000.opus", start_s=90.04, end_s=100.04,
        duration_s=10.0, sha256="ab" * 32, bytes=40321,
    )  # fmt: skip
    later = Segment(
        index=2, path="tracks/citizen-7/TR_b-00002.opus", start_s=112.5, end_s=113.0,
        duration_s=0.5, sha256="cd" * 32, bytes=2100,
    )  # fmt: skip
    spoke = TrackRecord(
        track_sid="TR_a", participant_identity="citizen-7", display_name="Nguyễn Văn A",
        role="citizen", connection_point="UBND xã Gia Viễn", segments=(segment, later),
        gaps=(Gap(100.04, 112.5, "recorder_restart"),), first_audio_s=90.04,
    )  # fmt: skip
    silent = TrackRecord(
        track_sid="TR_c", participant_identity="point-2", display_name="Điểm cầu 2",
        role="connection_point", connection_point="Điểm cầu 2", source="screen_share_audio",
    )  # fmt: skip
    camera = TrackRecord(
        track_sid="TR_v", participant_identity="citizen-7", display_name="Nguyễn Văn A",
        role="citizen", connection_point="UBND xã Gia Viễn", source="camera",
        segments=(replace(segment, path="tracks/citizen-7/TR_v-00000.mp4"),), first_audio_s=90.04,
    )  # fmt: skip
    return RecordingManifest(
        room="ninh-binh-42", session_started_at=STARTED, finalized_at=finalized,
        tracks=(spoke, silent), video_tracks=(camera,),
    )  # fmt: skip


@pytest.mark.parametrize("finalized", [None, STARTED + timedelta(hours=1, seconds=0.25)])
def test_manifest_round_trip(finalized: datetime | None) -> None:
    original = manifest(finalized)
    text = original.to_json()
    assert RecordingManifest.from_json(text) == original
    assert "Nguyễn Văn A" in text  # readable UTF-8, not \u escapes
    data = json.loads(text)
    assert data["version"] == 1
    assert data["tracks"][1]["first_audio_s"] is None
    assert original.tracks[0].duration_s == pytest.approx(10.5)
    assert original.tracks[1].duration_s == 0
    assert data["video_tracks"][0]["source"] == "camera"


def test_a_manifest_from_before_cameras_has_no_video_tracks() -> None:
    data = json.loads(manifest().to_json())
    del data["video_tracks"]
    assert RecordingManifest.from_json(json.dumps(data)).video_tracks == ()


@pytest.mark.parametrize(
    ("source", "recorded"),
    [((1280, 720), (640, 360)), ((1920, 1080), (640, 360)), ((640, 480), (480, 360)),
     ((320, 180), (320, 180)), ((720, 1280), (202, 360)), ((641, 361), (638, 360))],
)  # fmt: skip
def test_cameras_fit_640_by_360_with_even_sides_never_enlarged(
    source: tuple[int, int], recorded: tuple[int, int]
) -> None:
    assert fitted_size(*source) == recorded


def test_an_odd_sized_frame_loses_its_last_row_and_column() -> None:
    frame = rtc.VideoFrame(5, 3, rtc.VideoBufferType.RGBA, bytes([200, 0, 0, 255] * 15))
    picture = to_av_frame(frame.convert(rtc.VideoBufferType.I420))
    assert (picture.width, picture.height) == (4, 2)


def test_manifest_keeps_the_timezone_of_the_start() -> None:
    hanoi = timezone(timedelta(hours=7))
    original = RecordingManifest("r", STARTED.astimezone(hanoi), None)
    parsed = RecordingManifest.from_json(original.to_json())
    assert parsed.session_started_at == STARTED
    assert parsed.session_started_at.utcoffset() == timedelta(hours=7)


def edited(change: str) -> str:
    data = json.loads(manifest().to_json())
    track = data["tracks"][0]
    if change == "version":
        data["version"] = 2
    elif change == "no_room":
        del data["room"]
    elif change == "gap_reason":
        track["gaps"][0]["reason"] = "coffee_break"
    elif change == "segment_field":
        track["segments"][0]["colour"] = "blue"
    elif change == "segment_missing":
        del track["segments"][0]["sha256"]
    elif change == "bad_time":
        data["session_started_at"] = "yesterday"
    elif change == "tracks_not_list":
        data["tracks"] = 5
    return json.dumps(data)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (edited("version"), "unknown recording manifest version 2"),
        (edited("gap_reason"), "unknown gap reason 'coffee_break'"),
        (edited("no_room"), "malformed recording manifest: 'room'"),
        (edited("segment_field"), "malformed recording manifest"),
        (edited("segment_missing"), "malformed recording manifest"),
        (edited("bad_time"), "malformed recording manifest"),
        (edited("tracks_not_list"), "malformed recording manifest"),
        ("{not json", "malformed recording manifest"),
        ("[]", "malformed recording manifest"),
    ],
)
def test_manifest_refuses_what_it_does_not_know(text: str, message: str) -> None:
    with pytest.raises(ManifestError, match=message) as caught:
        RecordingManifest.from_json(text)
    assert caught.value.retryable is False


def test_participant_labels() -> None:
    attrs = {"kind": "officer", "connection_point": "Sở Tư pháp"}
    assert participant_labels("o-1", "Trần B", attrs) == ("Trần B", "officer", "Sở Tư pháp")
    # Joined some other way: still recorded, labelled as well as it can be.
    assert participant_labels("guest-9", "", {}) == ("guest-9", "unknown", "guest-9")
    assert participant_labels("g", "Khách", {"kind": ""}) == ("Khách", "unknown", "Khách")


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ("", {"recording": True}),
        ('{"title": "Tiếp dân", "recording": false}', {"title": "Tiếp dân", "recording": True}),
        ("not json", {"recording": True}),
        ("[1, 2]", {"recording": True}),
    ],
)
def test_recording_metadata_sets_the_flag_and_keeps_the_rest(
    metadata: str, expected: dict[str, object]
) -> None:
    assert json.loads(recording_metadata(metadata, True)) == expected
    off = json.loads(recording_metadata(recording_metadata(metadata, True), False))
    assert off == {**expected, "recording": False}
    assert "Tiếp dân" in recording_metadata('{"title": "Tiếp dân"}', True)


def test_clock_counts_from_the_start_and_maps_back() -> None:
    started = datetime.now(UTC) - timedelta(seconds=90)
    clock = SessionClock(started)
    first = clock.now()
    assert first == pytest.approx(90.0, abs=0.05)
    assert clock.now() >= first
    assert clock.wall(30.0) == clock.started_at + timedelta(seconds=30)
    # Another clock of the same start (a restarted recorder) reads the same timeline.
    assert SessionClock(started).now() == pytest.approx(clock.now(), abs=0.05)
    hanoi = timezone(timedelta(hours=7))
    assert SessionClock(started.astimezone(hanoi)).started_at == started
    assert SessionClock(started.astimezone(hanoi)).started_at.tzinfo is UTC
    assert SessionClock().now() == pytest.approx(0.0, abs=0.05)


def test_clock_refuses_a_naive_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SessionClock(datetime(2025, 1, 6, 8, 30))


def test_a_resumed_writer_keeps_the_segments_and_opens_a_restart_gap() -> None:
    [resumed, silent] = manifest().tracks
    writer = SegmentWriter(
        out_dir=Path("/nonexistent"), identity="citizen-7",
        track_sid="TR_d", clock=SessionClock(STARTED), resume=resumed,
    )  # fmt: skip
    assert writer.segments == resumed.segments
    assert writer.gaps == resumed.gaps
    assert writer.first_audio_s == 90.04
    # The next segment continues the numbering after the highest index (2).
    assert writer._next_index == 3
    assert writer._open_gap == (113.0, "recorder_restart")
    fresh = SegmentWriter(
        out_dir=Path("/nonexistent"), identity="point-2",
        track_sid="TR_c", clock=SessionClock(STARTED), resume=silent,
    )  # fmt: skip
    assert fresh._open_gap is None and fresh.first_audio_s is None
    # Died within the first segment: known to have spoken, nothing kept; the gap starts there.
    lost = replace(silent, first_audio_s=42.5)
    first_lost = SegmentWriter(
        out_dir=Path("/nonexistent"), identity="point-2", track_sid="TR_c",
        clock=SessionClock(STARTED), resume=lost,
    )  # fmt: skip
    assert first_lost._open_gap == (42.5, "recorder_restart")
    assert first_lost._next_index == 0


def test_writer_refuses_segments_over_ten_seconds() -> None:
    with pytest.raises(ValueError, match="max_segment_s"):
        SegmentWriter(
            out_dir=Path("/x"), identity="a", track_sid="T",
            clock=SessionClock(), max_segment_s=10.5,
        )  # fmt: skip
