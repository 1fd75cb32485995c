"""The archive service: write a session's files to the locked S3 bucket and verify them.

Pure decisions (keys, retention class, manifest, signatures, chain) are in
:mod:`storage.records`; this module does the I/O with the minio client. Every write is
idempotent: an object already stored with the same size and SHA-256 is not written again, so a
job interrupted (S3 down, worker killed) is simply run again and resumes where it stopped. The
local copy of a file is deleted only once S3 reports the recorded size and checksum. Which files
of a session directory are archived, and how, is :mod:`storage.spool`'s to say. What minio, the
network and the disk raise leaves as :class:`storage.errors.ArchiveError`.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from minio import Minio
from minio.commonconfig import COMPLIANCE
from minio.error import S3Error
from minio.retention import Retention

from config import Settings
from config.settings import S3Settings
from storage.errors import ArchiveError, ArchiveFormatError
from storage.files import hash_file
from storage.records import (
    AlteredFile,
    ArchivedObject,
    Manifest,
    RecordType,
    SignedManifest,
    chain_head,
    chain_problems,
    is_manifest_key,
    manifest_key,
    object_key,
    read_signed_manifest,
    retain_until_iso,
    session_prefix,
    sign_manifest,
)
from storage.s3 import archive_errors
from storage.spool import ArchivedAs, SessionSpool, archived_as, missing_files

log = logging.getLogger(__name__)

SHA256_META = "sha256"
# Large files go up in parts of this size (minio switches to multipart above it).
PART_SIZE = 16 * 1024 * 1024
_CHUNK = 1024 * 1024


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The Ed25519 key that signs manifests (``security.archive_signing_key``)."""
    return Ed25519PrivateKey.from_private_bytes(settings.security.archive_signing_seed)


@archive_errors("prepare the archive bucket")
def ensure_bucket(client: Minio, bucket: str) -> None:
    """Create the archive bucket with object lock (and so versioning) if it does not exist."""
    if not client.bucket_exists(bucket):
        try:
            client.make_bucket(bucket, object_lock=True)
            return
        except S3Error as e:
            # Another worker created it a moment ago: check its object lock like any other.
            if e.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
    try:
        client.get_object_lock_config(bucket)
    except S3Error as e:
        # Without object lock nothing stops an overwrite: refuse rather than archive there.
        raise ArchiveError(
            f"bucket {bucket} exists without object lock; the archive needs a bucket created "
            "with object lock (a new bucket name, or recreate it)",
            retryable=False,
        ) from e


def _stored(client: Minio, bucket: str, key: str) -> tuple[int, str, str | None] | None:
    """Size, recorded SHA-256 and version of the object at ``key``, or None if absent."""
    try:
        stat = client.stat_object(bucket, key)
    except S3Error as e:
        if e.code in ("NoSuchKey", "NoSuchVersion", "ResourceNotFound"):
            return None
        raise
    meta = {k.lower(): v for k, v in (stat.metadata or {}).items()}
    return stat.size or 0, meta.get(f"x-amz-meta-{SHA256_META}", ""), stat.version_id


def _retention(s3: S3Settings, kind: RecordType, now: datetime) -> Retention:
    until = (now + timedelta(days=s3.retention_days(kind))).replace(microsecond=0)
    return Retention(COMPLIANCE, until)


@dataclass(frozen=True)
class SessionPlace:
    """Where a session belongs in the archive, and facts its manifest records."""

    session_id: int
    province_code: str
    year: int
    facts: Mapping[str, str] = field(default_factory=dict)
    altered: tuple[AlteredFile, ...] = ()

    @property
    def prefix(self) -> str:
        """The session's key prefix."""
        return session_prefix(self.year, self.province_code, self.session_id)


def _put_file(
    client: Minio, bucket: str, key: str, path: Path, sha: str, retention: Retention
) -> tuple[int, str | None] | None:
    """Write one file unless S3 already has it; its size and S3 version (None: upload mismatch)."""
    size = path.stat().st_size
    existing = _stored(client, bucket, key)
    if existing is None:
        client.fput_object(
            bucket, key, str(path), metadata={SHA256_META: sha}, retention=retention,
            part_size=PART_SIZE,
        )  # fmt: skip
        existing = _stored(client, bucket, key)
    if existing is None or existing[0] != size or existing[1] != sha:
        return None
    return size, existing[2]


def _archive_file(
    client: Minio,
    s3: S3Settings,
    base: str,
    spool: SessionSpool,
    name: str,
    where: ArchivedAs,
    sha: str,
    now: datetime,
) -> ArchivedObject:
    """Put the spool file ``name`` at its key under ``base``, with its retention; as stored."""
    key = object_key(base, where.path)
    retention = _retention(s3, where.record_type, now)
    stored = _put_file(client, s3.bucket, key, spool.directory / name, sha, retention)
    if stored is None:
        raise ArchiveError(f"S3 does not hold {name} as sent", retryable=True)
    assert retention.retain_until_date is not None
    return ArchivedObject(
        name=name, key=key, size=stored[0], sha256=sha, record_type=where.record_type,
        version_id=stored[1], retain_until=retain_until_iso(retention.retain_until_date),
    )  # fmt: skip


@archive_errors("read the province's manifests")
def province_manifests(
    client: Minio, bucket: str, province_code: str, verify_key: Ed25519PublicKey
) -> list[SignedManifest]:
    """Every manifest of one province found in the bucket, read and signature-checked."""
    found = []
    for key in _manifest_keys(client, bucket):
        if key.split("/")[1] == province_code:
            found.append(_read_manifest(client, bucket, key, verify_key))
    return found


def _manifest_keys(client: Minio, bucket: str) -> Iterator[str]:
    """Every manifest's key (none while the bucket does not exist: nothing was archived yet)."""
    try:
        for obj in client.list_objects(bucket, recursive=True):
            if obj.object_name and is_manifest_key(obj.object_name):
                yield obj.object_name
    except S3Error as e:
        if e.code != "NoSuchBucket":
            raise


def _read_manifest(
    client: Minio, bucket: str, key: str, verify_key: Ed25519PublicKey
) -> SignedManifest:
    response = client.get_object(bucket, key)
    try:
        raw = response.read()
    finally:
        response.close()
        response.release_conn()
    return read_signed_manifest(raw, verify_key)


@archive_errors("archive a session directory")
def archive_directory(
    client: Minio,
    s3: S3Settings,
    key: Ed25519PrivateKey,
    place: SessionPlace,
    directory: Path,
    *,
    now: datetime | None = None,
    on_stored: Callable[[str], None] | None = None,
    delete_local: bool = True,
    chain_lock: AbstractContextManager[object] | None = None,
) -> Manifest:
    """Archive the files of ``directory`` (:mod:`storage.spool` says which), sign the manifest,
    then delete the local copies and the scratch files.

    Run again after any failure it resumes; run after success (nothing left locally, or the
    same files) it changes nothing and returns the current manifest. Files that differ from the
    archived ones make a new revision that supersedes the previous manifest. ``on_stored`` is
    called with each file name once S3 has confirmed it (progress reporting). With
    ``delete_local`` false the local files stay (a later step still reads them).

    ``chain_lock`` is held from reading the province's chain head to writing the manifest that
    links to it: two sessions of one province archived at once by two workers would otherwise
    link to the same head, a fork that ``verify`` reports as tampering. Workers share one (the
    pipeline's archive step takes a database lock per province); one writer needs none.
    """
    now = now or datetime.now(UTC)
    bucket = s3.bucket
    ensure_bucket(client, bucket)
    spool = SessionSpool(directory)
    files = spool.archived_files()
    # Only the session's own prefix: the province's chain is read once, under the lock.
    newest = _newest_revision(client, bucket, key.public_key(), place.prefix)
    current = newest.manifest if newest else None
    archived = {o.name: o for o in current.objects} if current else {}
    hashes = {name: hash_file(directory / name).sha256 for name in files}
    changed = [n for n in files if n not in archived or archived[n].sha256 != hashes[n]]
    if current is not None and not changed and current.altered == place.altered:
        if delete_local:
            _delete_local(spool, archived)
        return current

    revision = current.revision + 1 if current else 1
    # A revision writes changed files beside the first ones: archived keys are never rewritten.
    base = place.prefix if revision == 1 else f"{place.prefix}r{revision}/"
    objects = dict(archived)
    for name in changed:
        objects[name] = _archive_file(client, s3, base, spool, name, files[name], hashes[name], now)
        if on_stored is not None:
            on_stored(name)
    with chain_lock or nullcontext():
        # Read again under the lock: another session of the province may have been archived
        # while these files were uploading.
        head = chain_head(province_manifests(client, bucket, place.province_code, key.public_key()))
        manifest = _write_manifest(client, s3, key, place, revision, objects, head, current, now)
    if delete_local:
        _delete_local(spool, objects)
    log.info("session %s archived as %s (%d objects)", place.session_id, manifest.key, len(objects))
    return manifest


def _write_manifest(
    client: Minio,
    s3: S3Settings,
    key: Ed25519PrivateKey,
    place: SessionPlace,
    revision: int,
    objects: Mapping[str, ArchivedObject],
    head: SignedManifest | None,
    current: Manifest | None,
    now: datetime,
) -> Manifest:
    manifest = Manifest(
        session_id=place.session_id,
        province_code=place.province_code,
        year=place.year,
        revision=revision,
        created_at=now.isoformat(),
        objects=tuple(objects[n] for n in sorted(objects)),
        missing=missing_files(objects),
        previous_key=head.manifest.key if head else None,
        previous_sha256=head.sha256 if head else None,
        supersedes=current.key if current else None,
        facts=dict(place.facts),
        altered=place.altered,
    )
    body = sign_manifest(manifest, key)
    client.put_object(
        s3.bucket,
        manifest_key(place.prefix, revision),
        io.BytesIO(body),
        len(body),
        content_type="application/json",
        retention=_retention(s3, RecordType.METADATA, now),
    )
    return manifest


def _delete_local(spool: SessionSpool, archived: Mapping[str, ArchivedObject]) -> None:
    """Delete the local files S3 holds with the same checksum, and the files the archive never
    takes (scratch and temporaries: nothing reads them once the session is archived)."""
    for name in spool.files():
        path = spool.directory / name
        if archived_as(name) is None or (
            name in archived and hash_file(path).sha256 == archived[name].sha256
        ):
            path.unlink()
    for sub in sorted((p for p in spool.directory.rglob("*") if p.is_dir()), reverse=True):
        if not any(sub.iterdir()):
            sub.rmdir()


@dataclass(frozen=True)
class SessionReport:
    """The verification of one session's latest manifest: empty ``problems`` means intact."""

    session_id: int
    province_code: str
    manifest_key: str
    objects: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Whether nothing is wrong."""
        return not self.problems

    def to_json(self) -> dict[str, object]:
        """The report as plain JSON data."""
        return {
            "session_id": self.session_id,
            "province_code": self.province_code,
            "manifest": self.manifest_key,
            "objects": self.objects,
            "ok": self.ok,
            "problems": list(self.problems),
        }


def _object_problems(client: Minio, bucket: str, obj: ArchivedObject, full: bool) -> list[str]:
    versions = [
        v
        for v in client.list_objects(bucket, prefix=obj.key, include_version=True)
        if v.object_name == obj.key
    ]
    if not versions:
        return [f"{obj.name}: missing from S3"]
    problems = []
    others = [v.version_id for v in versions if v.version_id != obj.version_id]
    if others:
        problems.append(f"{obj.name}: {len(others)} other version(s) written on the archived key")
    if obj.version_id not in {v.version_id for v in versions}:
        problems.append(f"{obj.name}: archived version {obj.version_id} is gone")
        return problems
    stored = client.stat_object(bucket, obj.key, version_id=obj.version_id)
    if stored.size != obj.size:
        problems.append(f"{obj.name}: size {stored.size} != {obj.size}")
    elif full:
        response = client.get_object(bucket, obj.key, version_id=obj.version_id)
        digest = hashlib.sha256()
        try:
            for chunk in response.stream(_CHUNK):
                digest.update(chunk)
        finally:
            response.close()
            response.release_conn()
        if digest.hexdigest() != obj.sha256:
            problems.append(f"{obj.name}: content differs (SHA-256)")
    return problems


@archive_errors("verify the archive")
def verify_archive(
    client: Minio,
    bucket: str,
    public_key: Ed25519PublicKey,
    *,
    province_code: str | None = None,
    session_id: int | None = None,
    full: bool = True,
    expected: Mapping[int, str] | None = None,
) -> list[SessionReport]:
    """Check signatures, the per-province chains and every object of the selected sessions.

    ``expected`` (session id: province code) names the sessions that should have an archive
    (the database knows which); one without a manifest is reported, never left out.
    """
    manifests: dict[str, list[SignedManifest]] = {}
    reports: list[SessionReport] = []
    for mkey in _manifest_keys(client, bucket):
        province = mkey.split("/")[1]
        if province_code is not None and province != province_code:
            continue
        try:
            manifests.setdefault(province, []).append(
                _read_manifest(client, bucket, mkey, public_key)
            )
        except ArchiveFormatError as e:
            reports.append(SessionReport(int(mkey.split("/")[2]), province, mkey, 0, (str(e),)))
    for province, chain in sorted(manifests.items()):
        links = chain_problems(chain)
        superseded = {m.manifest.supersedes for m in chain if m.manifest.supersedes}
        for signed in sorted(chain, key=lambda m: m.manifest.key):
            m = signed.manifest
            if session_id is not None and m.session_id != session_id:
                continue
            problems = list(links.get(m.key, []))
            versions = [
                v
                for v in client.list_objects(bucket, prefix=m.key, include_version=True)
                if v.object_name == m.key
            ]
            if len(versions) > 1:
                problems.append(f"manifest has {len(versions)} versions (rewritten)")
            if not signed.signature_ok:
                problems.append("manifest signature does not verify")
            if m.key not in superseded:
                for obj in m.objects:
                    problems.extend(_object_problems(client, bucket, obj, full))
                problems.extend(a.problem() for a in m.altered)
            reports.append(
                SessionReport(m.session_id, province, m.key, len(m.objects), tuple(problems))
            )
    wanted = dict(expected or {})
    if session_id is not None:
        wanted = {session_id: wanted.get(session_id, province_code or "?")}
    reported = {r.session_id for r in reports}
    for sid, province in sorted(wanted.items()):
        if sid not in reported and (province_code is None or province == province_code):
            reports.append(SessionReport(sid, province, "", 0, ("no manifest in the archive",)))
    return reports


def report_lines(reports: list[SessionReport]) -> Iterator[str]:
    """One JSON line per session report (what ``tiepdan archive verify`` prints)."""
    for report in reports:
        yield json.dumps(report.to_json(), ensure_ascii=False)


def _newest_revision(
    client: Minio, bucket: str, public_key: Ed25519PublicKey, prefix: str
) -> SignedManifest | None:
    """The newest revision's manifest under the session ``prefix``, read and signature-checked."""
    keys = [
        o.object_name
        for o in client.list_objects(bucket, prefix=prefix)
        if o.object_name and is_manifest_key(o.object_name)
    ]
    signed = [_read_manifest(client, bucket, k, public_key) for k in keys]
    return max(signed, key=lambda m: m.manifest.revision, default=None)


@archive_errors("read a session's manifest")
def latest_manifest(
    client: Minio, bucket: str, public_key: Ed25519PublicKey, prefix: str
) -> Manifest | None:
    """The newest revision's manifest of the session at ``prefix`` (None: never archived, the
    bucket included, which the first archive job creates).

    Raises:
        ArchiveError: that manifest fails its signature.
    """
    try:
        latest = _newest_revision(client, bucket, public_key, prefix)
    except S3Error as e:
        if e.code == "NoSuchBucket":
            return None
        raise
    if latest is None:
        return None
    if not latest.signature_ok:
        raise ArchiveError(f"manifest {latest.manifest.key} fails its signature", retryable=False)
    return latest.manifest


@archive_errors("find an archived file")
def find_archived(
    client: Minio, bucket: str, public_key: Ed25519PublicKey, prefix: str, name: str
) -> ArchivedObject | None:
    """The archived object ``name`` of the session at ``prefix``, per its latest manifest."""
    manifest = latest_manifest(client, bucket, public_key, prefix)
    if manifest is None:
        return None
    return next((o for o in manifest.objects if o.name == name), None)


@archive_errors("sign a playback URL")
def presigned_url(client: Minio, bucket: str, obj: ArchivedObject, expires: timedelta) -> str:
    """A GET URL for exactly the archived version of ``obj``, valid for ``expires``."""
    return client.presigned_get_object(bucket, obj.key, expires=expires, version_id=obj.version_id)
