"""The ffmpeg graph that builds mixed.opus: each file delayed to its time, summed, normalized."""

from __future__ import annotations

from pathlib import Path

import pytest

from transcription.errors import AudioError
from transcription.mix import PlacedFile, mix_command


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
    assert {"-acodec": "libopus", "-ac": "1", "-f": "ogg"}.items() <= dict(
        zip(args[:-2:], args[1:-1], strict=False)
    ).items()
    assert args[:2] == ["ffmpeg", "-nostdin"]


def test_nothing_to_mix_is_a_clear_error() -> None:
    with pytest.raises(AudioError, match="nothing to mix"):
        mix_command([], Path("/out/mixed.opus"))
