"""Locating the Whisper model: the embedded parts assembled once, verified, or a clear error."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from config import ModelError, locate_model
from config.settings import PathSettings, WhisperSettings
from config.whisper_model import ModelPart, assemble_model


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def shipped(tmp_path: Path) -> tuple[list[ModelPart], Path, str]:
    """Two parts and the side files, as the data packages ship them (tiny stand-in bytes)."""
    side = tmp_path / "pkg"
    side.mkdir()
    chunks = [b"first half of the weights ", b"second half"]
    parts = []
    for i, chunk in enumerate(chunks, start=1):
        (side / f"model.bin.part{i}").write_bytes(chunk)
        parts.append(ModelPart(side / f"model.bin.part{i}", _sha(chunk)))
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (side / name).write_text(name)
    return parts, side, _sha(b"".join(chunks))


def test_parts_are_concatenated_once_and_verified(
    shipped: tuple[list[ModelPart], Path, str], tmp_path: Path
) -> None:
    parts, side, whole = shipped
    model = assemble_model(parts, side, tmp_path / "cache", whole)
    assert (model / "model.bin").read_bytes() == b"first half of the weights second half"
    assert sorted(p.name for p in model.iterdir()) == [
        "config.json",
        "model.bin",
        "model.bin.sha256",
        "tokenizer.json",
        "vocabulary.txt",
    ]
    mtime = (model / "model.bin").stat().st_mtime_ns
    assert assemble_model(parts, side, tmp_path / "cache", whole) == model
    assert (model / "model.bin").stat().st_mtime_ns == mtime  # reused, not rebuilt


def test_a_corrupted_part_is_named_with_its_expected_hash(
    shipped: tuple[list[ModelPart], Path, str], tmp_path: Path
) -> None:
    parts, side, whole = shipped
    parts[1].path.write_bytes(b"second halF")
    with pytest.raises(ModelError) as error:
        assemble_model(parts, side, tmp_path / "cache", whole)
    assert str(parts[1].path) in str(error.value)
    assert parts[1].sha256 is not None and parts[1].sha256 in str(error.value)
    assert not (tmp_path / "cache" / f"whisper-base-{whole[:16]}" / "model.bin").exists()


def test_a_missing_part_is_named(
    shipped: tuple[list[ModelPart], Path, str], tmp_path: Path
) -> None:
    parts, side, whole = shipped
    parts[0].path.unlink()
    with pytest.raises(ModelError, match=f"missing: {parts[0].path}"):
        assemble_model(parts, side, tmp_path / "cache", whole)


def test_a_wrong_whole_is_refused_even_when_parts_look_right(
    shipped: tuple[list[ModelPart], Path, str], tmp_path: Path
) -> None:
    parts, side, _whole = shipped
    expected = "0" * 64
    with pytest.raises(ModelError, match=expected):
        assemble_model(parts, side, tmp_path / "cache", expected)


def test_a_directory_in_settings_is_used_as_is(tmp_path: Path) -> None:
    paths = PathSettings(state_dir=tmp_path)
    assert locate_model(WhisperSettings(model=str(tmp_path)), paths) == str(tmp_path)


def test_another_model_name_is_passed_to_faster_whisper_unchanged(tmp_path: Path) -> None:
    paths = PathSettings(state_dir=tmp_path)
    assert locate_model(WhisperSettings(model="large-v3"), paths) == "large-v3"
    assert not (tmp_path / "models").exists()
