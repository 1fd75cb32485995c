"""The project's file primitives: atomic replacement, hashing, listing. Blocking: from async code,
run them in a thread (``asyncio.to_thread``).

A file is written under a temporary name beside its final one and moved over it once complete and
on disk, so a reader (the pipeline, the archive, a recorder resuming) finds the old file or the
new one, never half of one. The temporary name starts with a dot: the archive never takes such a
file (:mod:`storage.spool`).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple


class FileHash(NamedTuple):
    """A file's SHA-256 (hex) and size in bytes."""

    sha256: str
    size: int


def temporary_path(path: Path) -> Path:
    """Where ``path`` is written before it replaces the file of that name: a name of this
    writer's own, so that two writers of one file (a pipeline step sent again while its first
    run still works) never write through each other. With one name for both, the fault suite saw
    a mix fail for good: the other run had already moved the file it was about to rename."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Write ``path`` atomically: the block writes the path it is given, which then replaces
    ``path`` once flushed to disk; if the block raises, it is deleted and ``path`` is untouched.

    The parent directory is created if missing.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = temporary_path(path)
    try:
        yield partial
        with partial.open("rb") as f:
            # Without it a power cut after the rename can leave the final name on an empty file.
            os.fsync(f.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes | str) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8), atomically (:func:`replacing`)."""
    raw = data.encode() if isinstance(data, str) else data
    with replacing(path) as partial:
        partial.write_bytes(raw)


def hash_file(path: Path, *, sync: bool = False) -> FileHash:
    """The SHA-256 and size of a finished file.

    Args:
        path: the file.
        sync: first make sure the file is on disk (fsync): what lets a segment that a recording's
            manifest lists survive a power cut, not just a crash of the recorder.
    """
    with path.open("rb") as f:
        if sync:
            os.fsync(f.fileno())
        digest = hashlib.file_digest(f, "sha256")
        return FileHash(digest.hexdigest(), f.tell())


def files_under(root: Path) -> list[str]:
    """Every file under ``root`` as a sorted relative POSIX path (none when ``root`` is absent)."""
    if not root.is_dir():
        return []
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
