"""Listing what a killed recorder left: the pure part (which files, which track set)."""

from __future__ import annotations

import pytest

from media.encoder import SegmentTags
from media.manifest import Segment, TrackRecord
from media.salvage import Salvaged, unlisted_audio, with_salvaged


def segment(index: int, start_s: float, path: str = "tracks/a/TR_a") -> Segment:
    return Segment(index, f"{path}-{index:05d}.opus", start_s, start_s + 10, 10.0, "0" * 64, 99)


TRACK = TrackRecord("TR_a", "a", "Người a", "citizen", "Xã A", segments=(segment(0, 5.0),),
                    first_audio_s=5.0)  # fmt: skip


@pytest.mark.parametrize(
    ("metadata", "tags"),
    [
        ({"TIEPDAN_TRACK_SET": "TR_a", "TIEPDAN_INDEX": "3", "TIEPDAN_START_S": "12.5"},
         SegmentTags("TR_a", 3, 12.5)),
        # Ogg comment names are case-insensitive; readers may give them in lower case.
        ({"tiepdan_track_set": "TR_a", "tiepdan_index": "0", "tiepdan_start_s": "0.000001"},
         SegmentTags("TR_a", 0, 0.000001)),
        ({"TIEPDAN_TRACK_SET": "TR_a", "TIEPDAN_INDEX": "x", "TIEPDAN_START_S": "1"}, None),
        ({"encoder": "Lavf"}, None),
    ],
)  # fmt: skip
def test_segment_tags_read_back(metadata: dict[str, str], tags: SegmentTags | None) -> None:
    assert SegmentTags.from_metadata(metadata) == tags
    if tags is not None:
        assert SegmentTags.from_metadata(tags.to_metadata()) == tags


def test_unlisted_audio_is_every_speaker_file_no_track_lists() -> None:
    files = ["recording.partial.json", "tracks/a/TR_a-00000.opus", "tracks/a/TR_a-00001.opus",
             "tracks/a/TR_v-00000.mp4", "mixed.opus"]  # fmt: skip
    assert unlisted_audio(files, [TRACK]) == ["tracks/a/TR_a-00001.opus"]


def test_salvaged_segments_join_their_set_in_index_order() -> None:
    late = Salvaged("TR_a", segment(1, 15.0))
    [track] = with_salvaged((TRACK,), [late])
    assert track.segments == (segment(0, 5.0), segment(1, 15.0))


def test_a_set_the_manifest_never_listed_is_named_after_its_directory() -> None:
    lost = Salvaged("TR_b", segment(0, 7.0, "tracks/b/TR_b"))
    kept, new = with_salvaged((TRACK,), [lost])
    assert kept == TRACK
    assert (new.track_sid, new.participant_identity, new.role) == ("TR_b", "b", "unknown")
    assert (new.segments, new.first_audio_s) == ((lost.segment,), 7.0)
