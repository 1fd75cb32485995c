"""The archive's pure logic: object layout, retention classes, signed manifests, the chain.

No I/O here: :mod:`storage.archive` reads files, talks to S3 and the database, and uses
these functions to decide what to write and whether what it reads back is intact.

Layout: ``{year}/{province-code}/{session-id}/{path}``, ``path`` being where
:func:`storage.spool.archived_as` puts a spool file: its name in the session directory
(``recording.json``, ``transcript.json``, ``minutes.docx``, ...), except that audio goes under
``audio/`` (``audio/mixed.opus``, ``audio/tracks/<identity>/<file>.opus``) and cameras under
``video/`` (``video/tracks/<identity>/<file>.mp4``).
Each archive (or revision) writes ``.../manifest-r{revision}.json``: the signed list of every
object with its size, SHA-256 and S3 version, and a link to the previous manifest of the same
province, so removing or rewriting one breaks the chain.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from storage.errors import ArchiveFormatError

MANIFEST_PREFIX = "manifest-r"


class RecordType(StrEnum):
    """The retention class of an archived object (``s3.retention_<type>_days`` each)."""

    MEDIA = "media"
    TRANSCRIPT = "transcript"
    MINUTES = "minutes"
    METADATA = "metadata"


def session_prefix(year: int, province_code: str, session_id: int) -> str:
    """``{year}/{province}/{session}/``: where every object of one session lives."""
    if not province_code or "/" in province_code:
        raise ValueError(f"invalid province code {province_code!r}")
    return f"{year:04d}/{province_code}/{session_id}/"


def object_key(prefix: str, path: str) -> str:
    """The key of the object at ``path`` under the session ``prefix`` (a relative POSIX path
    without ``..``)."""
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"invalid archive file name {path!r}")
    return prefix + path


def manifest_key(prefix: str, revision: int) -> str:
    """The key of the session's manifest of ``revision`` (1 for the first archive)."""
    return f"{prefix}{MANIFEST_PREFIX}{revision}.json"


def is_manifest_key(key: str) -> bool:
    """Whether ``key`` names a manifest."""
    last = key.rsplit("/", 1)[-1]
    return last.startswith(MANIFEST_PREFIX) and last.endswith(".json")


@dataclass(frozen=True)
class ArchivedObject:
    """One object written to the archive, as the manifest records it."""

    name: str
    key: str
    size: int
    sha256: str
    record_type: str
    version_id: str | None
    retain_until: str


@dataclass(frozen=True)
class AlteredFile:
    """A recorded file found altered before it was archived: what ``recording.json`` says it
    is, what was found (``None``: missing), and where the found file was archived instead (its
    spool name, under ``incidents/``; ``None``: nothing to archive)."""

    name: str
    expected_sha256: str
    expected_size: int
    found_sha256: str | None
    found_size: int | None
    archived_as: str | None

    def problem(self) -> str:
        """How ``verify`` reports it."""
        found = (
            "missing" if self.found_size is None
            else f"{self.found_size} bytes, SHA-256 {self.found_sha256}"
        )  # fmt: skip
        kept = f"; archived as {self.archived_as}, not as the recording" if self.archived_as else ""
        return (
            f"{self.name}: integrity incident: recording.json says {self.expected_size} bytes, "
            f"SHA-256 {self.expected_sha256}; found {found}{kept}"
        )


@dataclass(frozen=True)
class Manifest:
    """What was archived for one session, and its place in the province's chain."""

    session_id: int
    province_code: str
    year: int
    revision: int
    created_at: str
    objects: tuple[ArchivedObject, ...]
    missing: tuple[str, ...] = ()
    # The previous manifest of the same province (key and SHA-256 of its signed bytes).
    previous_key: str | None = None
    previous_sha256: str | None = None
    # The manifest this revision replaces (same session, revision - 1).
    supersedes: str | None = None
    facts: Mapping[str, str] = field(default_factory=dict)
    # Recorded files found altered before archiving (the altered bytes are never an object
    # listed under the recording's own name).
    altered: tuple[AlteredFile, ...] = ()

    @property
    def key(self) -> str:
        """Where this manifest is stored."""
        return manifest_key(
            session_prefix(self.year, self.province_code, self.session_id), self.revision
        )

    def to_json(self) -> dict[str, Any]:
        """The manifest as JSON data (what is signed; tuples stand for arrays)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Manifest:
        """Read a manifest written by :meth:`to_json`."""
        try:
            return cls(
                session_id=int(data["session_id"]),
                province_code=str(data["province_code"]),
                year=int(data["year"]),
                revision=int(data["revision"]),
                created_at=str(data["created_at"]),
                objects=tuple(ArchivedObject(**o) for o in data["objects"]),
                missing=tuple(data["missing"]),
                previous_key=data["previous_key"],
                previous_sha256=data["previous_sha256"],
                supersedes=data["supersedes"],
                facts=dict(data["facts"]),
                altered=tuple(AlteredFile(**a) for a in data.get("altered", ())),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ArchiveFormatError(f"unreadable manifest: {e}") from e


def _canonical(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short name for a public key: the start of the SHA-256 of its raw bytes."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_pem(private_key: Ed25519PrivateKey) -> str:
    """The PEM (SubjectPublicKeyInfo) of the key that signs manifests."""
    pem = private_key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    return pem.decode()


def sign_manifest(manifest: Manifest, private_key: Ed25519PrivateKey) -> bytes:
    """The manifest object's bytes: the manifest, its Ed25519 signature and the key id."""
    body = manifest.to_json()
    signature = private_key.sign(_canonical(body))
    envelope = {
        "manifest": body,
        "signature": base64.b64encode(signature).decode(),
        "key_id": key_id(private_key.public_key()),
        "algorithm": "Ed25519",
    }
    return json.dumps(envelope, sort_keys=True, ensure_ascii=False, indent=1).encode()


@dataclass(frozen=True)
class SignedManifest:
    """A manifest read back from the archive, and whether its signature holds."""

    manifest: Manifest
    sha256: str
    signature_ok: bool


def read_signed_manifest(raw: bytes, public_key: Ed25519PublicKey) -> SignedManifest:
    """Parse a manifest object and check its signature against ``public_key``."""
    try:
        envelope = json.loads(raw)
        body = envelope["manifest"]
        signature = base64.b64decode(envelope["signature"], validate=True)
    except (ValueError, KeyError, TypeError) as e:
        raise ArchiveFormatError(f"unreadable manifest: {e}") from e
    try:
        public_key.verify(signature, _canonical(body))
        ok = True
    except InvalidSignature:
        ok = False
    return SignedManifest(Manifest.from_json(body), hashlib.sha256(raw).hexdigest(), ok)


def chain_head(manifests: Sequence[SignedManifest]) -> SignedManifest | None:
    """The newest manifest of one province's chain (the one the next archive links to)."""
    if not manifests:
        return None
    return max(manifests, key=lambda m: (m.manifest.created_at, m.manifest.key))


def chain_problems(manifests: Sequence[SignedManifest]) -> dict[str, list[str]]:
    """Per manifest key, what is wrong with its link into one province's chain.

    Each manifest but the first must name a previous manifest that exists with the recorded
    SHA-256; no two may name the same previous one (a fork, or a manifest rewritten); exactly
    one manifest starts the chain.
    """
    by_key = {m.manifest.key: m for m in manifests}
    problems: dict[str, list[str]] = {}
    roots = [m for m in manifests if m.manifest.previous_key is None]
    if len(roots) > 1:
        for m in sorted(roots, key=lambda r: r.manifest.created_at)[1:]:
            problems.setdefault(m.manifest.key, []).append("second start of the chain")
    successors: dict[str, str] = {}
    for m in manifests:
        prev = m.manifest.previous_key
        if prev is None:
            continue
        target = by_key.get(prev)
        if target is None:
            problems.setdefault(m.manifest.key, []).append(f"previous manifest {prev} is missing")
        elif target.sha256 != m.manifest.previous_sha256:
            problems.setdefault(m.manifest.key, []).append(
                f"previous manifest {prev} was altered (SHA-256 differs)"
            )
        if prev in successors:
            problems.setdefault(m.manifest.key, []).append(
                f"chain forks: {successors[prev]} also follows {prev}"
            )
        successors[prev] = m.manifest.key
    return problems


def retain_until_iso(when: datetime) -> str:
    """A retention date as the manifest records it (UTC, seconds)."""
    return when.replace(microsecond=0).isoformat()
