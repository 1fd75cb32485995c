"""The ffmpeg graph that builds mixed.opus: each speaker's files one stream placed at its time,
summed, normalized."""

from __future__ import annotations

from pathlib import Path

import pytest

from transcription.errors import AudioError
from transcription.mix import STREAM_GAP_S, PlacedFile, concat_script, mix_command, streams_of


def graph(streams: list[tuple[float, Path]]) -> tuple[list[str], str]:
    return split(mix_command(streams, Path("/out/mixed.opus")))


def split(args: list[str]) -> tuple[list[str], str]:
    """A mix command's inputs and filter graph."""
    inputs = [args[i + 1] for i, a in enumerate(args) if a == "-i"]
    return inputs, args[args.index("-filter_complex") + 1]


def delays(filters: str) -> list[str]:
    return [p.split("delays=")[1].split("[")[0] for p in filters.split(";") if "adelay" in p]


@pytest.mark.parametrize(
    ("starts", "expected"),
    [
        pytest.param([0.0], ["0"], id="one stream"),
        pytest.param([2.0, 12.3456], ["2000", "12346"], id="milliseconds rounded"),
        pytest.param([5.0, 5.0], ["5000", "5000"], id="overlapping speakers both kept"),
        pytest.param([-0.2], ["0"], id="never negative"),
    ],
)
def test_each_stream_is_read_through_its_script_and_delayed_to_its_start(
    starts: list[float], expected: list[str]
) -> None:
    scripts = [Path(f"/tmp/s{i}.ffconcat") for i in range(len(starts))]
    args = mix_command(list(zip(starts, scripts, strict=True)), Path("/out/mixed.opus"))
    inputs, filters = split(args)
    assert inputs == [str(p) for p in scripts]
    assert args.count("concat") == len(starts) and args.count("-safe") == len(starts)
    assert delays(filters) == expected
    # Each stream's samples go where its timestamps say: gaps filled, slack cut.
    assert filters.count("aresample=48000:async=1:min_hard_comp=0.005") == len(starts)


def test_streams_are_summed_without_scaling_then_loudness_normalized() -> None:
    _inputs, filters = graph([(i * 10.0, Path(f"s{i}.ffconcat")) for i in range(5)])
    assert "amix=duration=longest:inputs=5:normalize=0" in filters
    # Normalization comes after the mix, then back to Opus's 48 kHz.
    assert filters.index("amix") < filters.index("loudnorm=I=-16.0") < filters.rindex("aresample")


def test_a_single_stream_needs_no_mix() -> None:
    _inputs, filters = graph([(1.0, Path("a.ffconcat"))])
    assert "amix" not in filters and "loudnorm" in filters


def test_output_is_mono_opus_in_ogg() -> None:
    args = mix_command([(0.0, Path("a.ffconcat"))], Path("/out/mixed.opus"))
    assert args[-2:] == ["/out/mixed.opus", "-y"]
    assert {
        "-acodec": "libopus",
        "-ac": "1",
        "-f": "ogg",
        "-compression_level": "5",
    }.items() <= dict(zip(args[:-2:], args[1:-1], strict=False)).items()
    assert args[:2] == ["ffmpeg", "-nostdin"]


def test_nothing_to_mix_is_a_clear_error() -> None:
    with pytest.raises(AudioError, match="nothing to mix"):
        mix_command([], Path("/out/mixed.opus"))


def durations_us(script: str) -> list[int]:
    return [int(line.split()[1].replace(".", "")) for line in script.splitlines()
            if line.startswith("duration ")]  # fmt: skip


def test_a_speakers_files_become_one_stream_gaps_and_all() -> None:
    # One speaker's 10 s files back to back, a gap, then one more; another speaker overlapping.
    files = [PlacedFile(i * 10.0, Path(f"/s/a{i}.opus"), 10.0) for i in range(3)] + [
        PlacedFile(45.0, Path("/s/a3.opus"), 10.0),
        PlacedFile(12.0, Path("/s/b0.opus"), 6.0),
    ]
    streams = streams_of(files)
    assert [[f.path.name for f in s] for s in streams] == [
        ["a0.opus", "a1.opus", "a2.opus", "a3.opus"],
        ["b0.opus"],
    ]
    script = concat_script(streams[0])
    assert script.splitlines()[:3] == [
        "ffconcat version 1.0",
        "file '/s/a0.opus'",
        "duration 10.000000",
    ]
    # Each file but the last lasts until the next starts: a gap becomes the file's silence.
    assert durations_us(script) == [10_000_000, 10_000_000, 25_000_000]
    assert script.splitlines()[-1] == "file '/s/a3.opus'"


def test_an_hour_of_files_stays_one_stream_and_on_the_clock() -> None:
    # The recorder's starts carry slack: 360 files 10.0003 s apart, an hour and 0.1 s in all.
    step = 10.0003
    files = [PlacedFile(i * step, Path(f"/s/a{i:03d}.opus"), 10.0) for i in range(360)]
    streams = streams_of(files)
    assert len(streams) == 1
    lengths = durations_us(concat_script(streams[0]))
    # Every file ends exactly where the next starts, to the microsecond: rounding never adds up.
    assert sum(lengths) == round(359 * step * 1_000_000)
    assert set(lengths) <= {10_000_300, 10_000_299, 10_000_301}


def test_a_path_with_a_quote_is_escaped() -> None:
    script = concat_script([PlacedFile(0.0, Path("/s/it's.opus"))])
    assert "file '/s/it'\\''s.opus'" in script


@pytest.mark.parametrize(
    ("second_start", "streams"),
    [
        pytest.param(9.99, 1, id="within an Opus frame of the end: the same stream"),
        pytest.param(10.5, 1, id="after a gap: the same stream"),
        pytest.param(9.5, 2, id="overlapping: another stream"),
    ],
)
def test_only_overlapping_files_need_streams_of_their_own(
    second_start: float, streams: int
) -> None:
    files = [PlacedFile(0.0, Path("a.opus"), 10.0), PlacedFile(second_start, Path("b.opus"), 5.0)]
    assert len(streams_of(files)) == streams


@pytest.mark.parametrize(
    "other",
    [
        # Both ended before A's next file: it continues the one that ended last, its own.
        pytest.param(PlacedFile(0.0, Path("b0.opus"), 4.0), id="the stream that ended last"),
        # B's ends 15 ms after A's next start, within an Opus frame: A's own ended in time.
        pytest.param(PlacedFile(5.0, Path("b0.opus"), 5.015), id="not one it would cut"),
    ],
)
def test_a_file_follows_its_own_stream(other: PlacedFile) -> None:
    files = [PlacedFile(0.0, Path("a0.opus"), 10.0), other, PlacedFile(10.0, Path("a1.opus"), 10.0)]
    assert [[f.path.name for f in s] for s in streams_of(files)] == [
        ["a0.opus", "a1.opus"],
        ["b0.opus"],
    ]


@pytest.mark.parametrize(
    ("gap_s", "streams"),
    [
        pytest.param(STREAM_GAP_S, 1, id="a gap ffmpeg fills in little memory: the same stream"),
        pytest.param(STREAM_GAP_S + 0.1, 2, id="a longer one (left and came back): a new stream"),
    ],
)
def test_a_long_gap_starts_a_stream_of_its_own(gap_s: float, streams: int) -> None:
    # ffmpeg fills a gap inside a stream at once, in memory (an hour's gap took 1.6 GB).
    files = [
        PlacedFile(0.0, Path("a0.opus"), 10.0),
        PlacedFile(10.0 + gap_s, Path("a1.opus"), 10.0),
    ]
    assert len(streams_of(files)) == streams


def test_a_file_of_unknown_length_ends_its_stream() -> None:
    files = [PlacedFile(0.0, Path("a.opus")), PlacedFile(10.0, Path("b.opus"), 5.0)]
    assert len(streams_of(files)) == 2
