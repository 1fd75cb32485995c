"""Which segment files of a track are one stream, and how they are joined (pure parts)."""

from __future__ import annotations

import numpy as np
import pytest

from transcription.track import contiguous_runs, join_run


@pytest.mark.parametrize(
    ("spans", "expected"),
    [
        pytest.param([], [], id="no files"),
        pytest.param([(3.0, 10.0)], [[0]], id="one file"),
        pytest.param([(0.0, 10.0), (10.0, 10.0), (20.0, 4.0)], [[0, 1, 2]], id="touching"),
        pytest.param([(0.0, 10.0), (10.04, 10.0)], [[0, 1]], id="gap within tolerance"),
        pytest.param([(0.0, 10.0), (9.96, 10.0)], [[0, 1]], id="overlap within tolerance"),
        pytest.param([(0.0, 10.0), (10.2, 10.0)], [[0], [1]], id="real gap"),
        pytest.param(
            [(30.0, 5.0), (0.0, 10.0), (10.0, 3.0), (35.0, 1.0)],
            [[1, 2], [0, 3]],
            id="given out of order",
        ),
    ],
)
def test_contiguous_runs(spans: list[tuple[float, float]], expected: list[list[int]]) -> None:
    assert contiguous_runs(spans) == expected


def _ones(seconds: float, value: float) -> np.ndarray:
    return np.full(round(seconds * 16000), value, dtype=np.float32)


@pytest.mark.parametrize(
    ("pieces", "length_s", "second_at_s"),
    [
        pytest.param([(5.0, _ones(1.0, 1)), (6.0, _ones(1.0, 2))], 2.0, 1.0, id="exact"),
        pytest.param([(5.0, _ones(1.0, 1)), (6.03, _ones(1.0, 2))], 2.03, 1.03, id="gap filled"),
        pytest.param([(5.0, _ones(1.0, 1)), (5.97, _ones(1.0, 2))], 1.97, 0.97, id="overlap cut"),
    ],
)
def test_join_run_places_each_piece_at_its_start(
    pieces: list[tuple[float, np.ndarray]], length_s: float, second_at_s: float
) -> None:
    stream = join_run(pieces)
    assert stream.size == round(length_s * 16000)
    first_of_second = int(np.argmax(stream == 2))
    assert first_of_second == round(second_at_s * 16000)
    assert stream.dtype == np.float32
