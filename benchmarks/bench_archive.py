"""Archive throughput against the local stack's SeaweedFS: the archive path vs plain put_object.

Builds a session directory of random "recordings" (default 8 files x 24 MiB: multipart above
16 MiB), archives it with :func:`storage.archive.archive_directory` (SHA-256, retention,
size+checksum confirmation, signed manifest, local deletion) and uploads the same bytes with one
plain ``fput_object`` each into a plain bucket; then verifies the archive (re-reading every
byte). Prints MB/s for each and the ratio archive / plain (target >= 80 %), all from one run.
Buckets get unique names and a retention of one day.

How to run it, and the latest figures: ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from config import load_settings
from storage import make_s3_client
from storage.archive import SessionPlace, archive_directory, signing_key, verify_archive
from storage.spool import AUDIO_SEGMENT_SUFFIX, track_dir


def _make_dir(root: Path, files: int, mib: int) -> Path:
    directory = root / "session"
    for i in range(files):
        path = directory / track_dir(f"speaker-{i}") / f"0001{AUDIO_SEGMENT_SUFFIX}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(mib * 1024 * 1024))
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--mib", type=int, default=24)
    args = parser.parse_args()
    base = load_settings()
    run = uuid.uuid4().hex[:10]
    s3 = base.s3.model_copy(
        update={"bucket": f"bench-archive-{run}", "retention_media_days": 1,
                "retention_metadata_days": 1}
    )  # fmt: skip
    client = make_s3_client(s3)
    total_mb = args.files * args.mib * 1024 * 1024 / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        directory = _make_dir(Path(tmp), args.files, args.mib)
        copy = Path(tmp) / "plain"
        shutil.copytree(directory, copy)

        plain_bucket = f"bench-plain-{run}"
        client.make_bucket(plain_bucket)
        started = time.perf_counter()
        for path in sorted(copy.rglob(f"*{AUDIO_SEGMENT_SUFFIX}")):
            client.fput_object(plain_bucket, path.relative_to(copy).as_posix(), str(path))
        plain_s = time.perf_counter() - started

        started = time.perf_counter()
        archive_directory(client, s3, signing_key(base), SessionPlace(1, "bench", 2026), directory)
        archive_s = time.perf_counter() - started

        started = time.perf_counter()
        reports = verify_archive(client, s3.bucket, signing_key(base).public_key())
        verify_s = time.perf_counter() - started
    assert all(r.ok for r in reports), reports
    for path in client.list_objects(plain_bucket, recursive=True):
        client.remove_object(plain_bucket, path.object_name or "")
    client.remove_bucket(plain_bucket)
    print(f"data: {args.files} files x {args.mib} MiB = {total_mb:.0f} MB")
    print(f"plain put_object: {total_mb / plain_s:7.1f} MB/s ({plain_s:.2f} s)")
    print(f"archive:          {total_mb / archive_s:7.1f} MB/s ({archive_s:.2f} s)")
    print(f"verify (full):    {total_mb / verify_s:7.1f} MB/s ({verify_s:.2f} s)")
    print(f"archive / plain:  {plain_s / archive_s:7.1%} (target >= 80 %)")


if __name__ == "__main__":
    main()
