"""How many jobs a worker runs at once, and how many CPU threads each job's model gets."""

from __future__ import annotations

import pytest

from transcription.engine import pool_shape


@pytest.mark.parametrize(
    ("cores", "device", "concurrency", "cpu_threads", "shape"),
    [
        pytest.param(2, "cpu", None, 0, (2, 1), id="CPU: a job per core, a core each"),
        pytest.param(8, "cpu", None, 0, (8, 1), id="more cores, more jobs"),
        pytest.param(8, "cpu", 2, 0, (2, 4), id="fewer jobs share the cores"),
        pytest.param(2, "cpu", 4, 0, (4, 1), id="more jobs than cores: one thread each"),
        pytest.param(2, "cpu", None, 3, (2, 3), id="threads as configured"),
        pytest.param(16, "cuda", None, 0, (1, 16), id="GPU: one job"),
        pytest.param(16, "cuda", 2, 0, (2, 8), id="GPU: jobs as asked"),
    ],
)
def test_pool_shape(
    cores: int, device: str, concurrency: int | None, cpu_threads: int, shape: tuple[int, int]
) -> None:
    assert pool_shape(cores, device, concurrency, cpu_threads) == shape
