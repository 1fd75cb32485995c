"""Blocking file work of the recorder, meant to run in a thread (``asyncio.to_thread``)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

_CHUNK = 1 << 16


def hash_file(path: Path) -> tuple[str, int]:
    """SHA-256 (hex) and size of a finished file, after making sure it is on disk.

    The fsync is what lets a segment that the manifest lists survive a power cut, not just a
    crash of the recorder.
    """
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        os.fsync(f.fileno())
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that a reader sees the old or the new file, never half."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def existing_files(root: Path) -> set[str]:
    """Paths (relative to ``root``, POSIX style) of every file under ``root``."""
    if not root.is_dir():
        return set()
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
