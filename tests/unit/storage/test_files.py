"""The file primitives: atomic replacement, hashing, listing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from storage.files import files_under, hash_file, replacing, write_atomic


def test_write_atomic_replaces_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "new" / "transcript.json"
    write_atomic(path, "Biên bản")
    write_atomic(path, b"second")
    assert path.read_bytes() == b"second"
    assert files_under(tmp_path) == ["new/transcript.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "mixed.opus"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError), replacing(path) as partial:
        partial.write_bytes(b"half")
        raise RuntimeError("the encoder died")
    assert path.read_bytes() == b"old"
    assert files_under(tmp_path) == ["mixed.opus"]


def test_two_writers_of_one_file_each_replace_it_whole(tmp_path: Path) -> None:
    """A pipeline step sent again while its first run still writes (the fault suite's mix):
    each writes through a name of its own, and the file is whole whoever renames last."""
    path = tmp_path / "mixed.opus"
    with replacing(path) as first:
        first.write_bytes(b"the first run's mix")
        with replacing(path) as second:
            second.write_bytes(b"the second run's mix")
        assert path.read_bytes() == b"the second run's mix"
    assert path.read_bytes() == b"the first run's mix"
    assert files_under(tmp_path) == ["mixed.opus"]


@pytest.mark.parametrize("sync", [False, True])
def test_hash_file(tmp_path: Path, sync: bool) -> None:
    data = bytes(range(256)) * 5000
    path = tmp_path / "segment.opus"
    path.write_bytes(data)
    assert hash_file(path, sync=sync) == (hashlib.sha256(data).hexdigest(), len(data))
