"""The archive's pure logic: key layout, manifest signatures, the chain (which spool file goes
where, and under which retention class: test_spool.py)."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from storage.errors import ArchiveFormatError
from storage.records import (
    ArchivedObject,
    Manifest,
    SignedManifest,
    chain_head,
    chain_problems,
    object_key,
    read_signed_manifest,
    session_prefix,
    sign_manifest,
)

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def _manifest(
    session_id: int, created_at: str, previous: tuple[str, str] | None = None
) -> Manifest:
    obj = ArchivedObject("mixed.opus", f"2026/01/{session_id}/mixed.opus", 10, "ab" * 32,
                         "media", "v1", "2036-01-01T00:00:00+00:00")  # fmt: skip
    return Manifest(
        session_id=session_id, province_code="01", year=2026, revision=1, created_at=created_at,
        objects=(obj,), previous_key=previous[0] if previous else None,
        previous_sha256=previous[1] if previous else None,
    )  # fmt: skip


def test_layout() -> None:
    prefix = session_prefix(2026, "79", 42)
    assert prefix == "2026/79/42/"
    assert object_key(prefix, "audio/tracks/alice/0001.opus") == (
        "2026/79/42/audio/tracks/alice/0001.opus"
    )
    assert object_key(prefix, "minutes.docx") == "2026/79/42/minutes.docx"
    assert _manifest(42, "t").key == "2026/01/42/manifest-r1.json"


@pytest.mark.parametrize("name", ["", "/etc/passwd", "../x", "tracks//a", "tracks/./a"])
def test_object_key_refuses_escaping_names(name: str) -> None:
    with pytest.raises(ValueError, match="invalid archive file name"):
        object_key("2026/79/42/", name)


@pytest.mark.parametrize("code", ["", "79/80"])
def test_session_prefix_refuses_bad_province(code: str) -> None:
    with pytest.raises(ValueError, match="invalid province code"):
        session_prefix(2026, code, 1)


def test_signature_round_trip_and_tamper() -> None:
    raw = sign_manifest(_manifest(1, "2026-01-01T00:00:00"), KEY)
    signed = read_signed_manifest(raw, KEY.public_key())
    assert signed.signature_ok and signed.manifest == _manifest(1, "2026-01-01T00:00:00")

    envelope = json.loads(raw)
    envelope["manifest"]["objects"][0]["sha256"] = "cd" * 32
    assert not read_signed_manifest(json.dumps(envelope).encode(), KEY.public_key()).signature_ok

    other = Ed25519PrivateKey.generate()
    assert not read_signed_manifest(raw, other.public_key()).signature_ok


def test_unreadable_manifest() -> None:
    with pytest.raises(ArchiveFormatError):
        read_signed_manifest(b"not json", KEY.public_key())


def _chain(n: int) -> list[SignedManifest]:
    signed = []
    previous = None
    for i in range(1, n + 1):
        raw = sign_manifest(_manifest(i, f"2026-01-0{i}T00:00:00", previous), KEY)
        s = read_signed_manifest(raw, KEY.public_key())
        signed.append(s)
        previous = (s.manifest.key, s.sha256)
    return signed


def test_intact_chain_and_head() -> None:
    chain = _chain(3)
    assert chain_problems(chain) == {}
    head = chain_head(chain)
    assert head is not None and head.manifest.session_id == 3


def test_removed_manifest_breaks_chain() -> None:
    chain = _chain(3)
    problems = chain_problems([chain[0], chain[2]])
    assert list(problems) == [chain[2].manifest.key]
    assert "is missing" in problems[chain[2].manifest.key][0]


def test_altered_previous_manifest_breaks_chain() -> None:
    chain = _chain(2)
    altered = read_signed_manifest(
        sign_manifest(_manifest(1, "2026-01-01T00:00:00+07:00"), KEY), KEY.public_key()
    )
    problems = chain_problems([altered, chain[1]])
    assert "altered" in problems[chain[1].manifest.key][0]


def test_fork_and_second_root() -> None:
    chain = _chain(2)
    fork = read_signed_manifest(
        sign_manifest(_manifest(9, "2026-01-09T00:00:00", (chain[0].manifest.key,
                                                          chain[0].sha256)), KEY),
        KEY.public_key(),
    )  # fmt: skip
    stray = read_signed_manifest(sign_manifest(_manifest(8, "2026-01-08T00:00:00"), KEY),
                                 KEY.public_key())  # fmt: skip
    problems = chain_problems([*chain, fork, stray])
    assert any("forks" in p for p in problems[fork.manifest.key])
    assert problems[stray.manifest.key] == ["second start of the chain"]


@pytest.mark.parametrize(
    ("attempts", "seconds"), [(1, 30), (2, 60), (3, 120), (7, 1920), (8, 3600), (20, 3600)]
)
def test_outbox_backoff(attempts: int, seconds: int) -> None:
    from orchestrator.pipeline.archive_step import backoff

    assert backoff(attempts).total_seconds() == seconds


def test_an_altered_file_says_what_was_expected_and_found() -> None:
    from storage.records import AlteredFile

    altered = AlteredFile(
        "tracks/a/x.opus", "e" * 64, 100, "f" * 64, 50, "incidents/tracks/a/x.opus"
    )
    assert altered.problem() == (
        f"tracks/a/x.opus: integrity incident: recording.json says 100 bytes, SHA-256 {'e' * 64}; "
        f"found 50 bytes, SHA-256 {'f' * 64}; archived as incidents/tracks/a/x.opus, "
        "not as the recording"
    )
    gone = AlteredFile("tracks/a/y.opus", "e" * 64, 100, None, None, None)
    assert gone.problem().endswith("; found missing")
