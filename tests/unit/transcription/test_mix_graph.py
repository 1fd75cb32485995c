"""The ffmpeg graph that builds mixed.opus: each file delayed to its time, summed, normalized."""

from __future__ import annotations

from pathlib import Path

import pytest

from transcription.errors import AudioError
from transcription.mix import JOINED_FILES, PlacedFile, joined_streams, mix_command


def graph(files: list[PlacedFile]) -> tuple[list[str], str]:
    args = mix_command(files, Path("/out/mixed.opus"))
    inputs = [args[i + 1] for i, a in enumerate(args) if a == "-i"]
    return inputs, args[args.index("-filter_complex") + 1]


@pytest.mark.parametrize(
    ("files", "inputs", "delays"),
    [
        pytest.param([PlacedFile(0.0, Path("a.opus"))], ["a.opus"], ["0"], id="one file"),
        pytest.param(
            [PlacedFile(12.3456, Path("b.opus")), PlacedFile(2.0, Path("a.opus"))],
            ["a.opus", "b.opus"],
            ["2000", "12346"],
            id="ordered by start, milliseconds rounded",
        ),
        pytest.param(
            [PlacedFile(5.0, Path("x/2.opus")), PlacedFile(5.0, Path("x/1.opus"))],
            ["x/1.opus", "x/2.opus"],
            ["5000", "5000"],
            id="overlapping speakers both kept",
        ),
        pytest.param([PlacedFile(-0.2, Path("a.opus"))], ["a.opus"], ["0"], id="never negative"),
    ],
)
def test_each_file_is_delayed_to_its_session_time(
    files: list[PlacedFile], inputs: list[str], delays: list[str]
) -> None:
    got_inputs, filters = graph(files)
    assert got_inputs == inputs
    assert [part.split("delays=")[1].split("[")[0] for part in filters.split(";")
            if "adelay" in part] == delays  # fmt: skip


def test_many_files_are_summed_without_scaling_then_loudness_normalized() -> None:
    files = [PlacedFile(i * 10.0, Path(f"s{i}.opus")) for i in range(5)]
    _inputs, filters = graph(files)
    assert "amix=duration=longest:inputs=5:normalize=0" in filters
    # Normalization comes after the mix, then back to Opus's 48 kHz.
    assert filters.index("amix") < filters.index("loudnorm=I=-16.0") < filters.index("aresample")


def test_a_single_file_needs_no_mix() -> None:
    _inputs, filters = graph([PlacedFile(1.0, Path("a.opus"))])
    assert "amix" not in filters and "loudnorm" in filters


def test_output_is_mono_opus_in_ogg() -> None:
    args = mix_command([PlacedFile(0.0, Path("a.opus"))], Path("/out/mixed.opus"))
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


def test_touching_files_are_joined_and_delayed_once() -> None:
    # One speaker's 10 s files back to back, a gap, then one more; another speaker overlapping.
    files = [PlacedFile(i * 10.0, Path(f"a{i}.opus"), 10.0) for i in range(3)] + [
        PlacedFile(45.0, Path("a3.opus"), 10.0),
        PlacedFile(12.0, Path("b0.opus"), 6.0),
    ]
    assert [[f.path.name for f in s] for s in joined_streams(files)] == [
        ["a0.opus", "a1.opus", "a2.opus"],
        ["b0.opus"],
        ["a3.opus"],
    ]
    _inputs, filters = graph(files)
    assert "concat=a=1:n=3:v=0" in filters
    assert [p.split("delays=")[1].split("[")[0] for p in filters.split(";") if "adelay" in p] == [
        "0",
        "12000",
        "45000",
    ]
    assert "amix=duration=longest:inputs=3:normalize=0" in filters


def test_a_long_run_is_joined_in_pieces_of_bounded_length() -> None:
    files = [
        PlacedFile(i * 10.0, Path(f"a{i:03d}.opus"), 10.0) for i in range(2 * JOINED_FILES + 1)
    ]
    streams = joined_streams(files)
    assert [len(s) for s in streams] == [JOINED_FILES, JOINED_FILES, 1]
    assert [s[0].start_s for s in streams] == [0.0, JOINED_FILES * 10.0, 2 * JOINED_FILES * 10.0]


@pytest.mark.parametrize(
    ("second_start", "joined"),
    [
        pytest.param(10.01, True, id="within an Opus frame: joined"),
        pytest.param(10.5, False, id="a gap: apart"),
    ],
)
def test_only_files_that_touch_are_joined(second_start: float, joined: bool) -> None:
    files = [PlacedFile(0.0, Path("a.opus"), 10.0), PlacedFile(second_start, Path("b.opus"), 5.0)]
    assert len(joined_streams(files)) == (1 if joined else 2)


def test_a_file_of_unknown_length_is_never_joined() -> None:
    files = [PlacedFile(0.0, Path("a.opus")), PlacedFile(10.0, Path("b.opus"), 5.0)]
    assert len(joined_streams(files)) == 2
