"""Credentials of the embedded local stack, generated on first use and kept in the state dir.

Never the public LiveKit dev key: each machine gets its own random key pair.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

SECRETS_FILE = "secrets.json"


@dataclass(frozen=True)
class LocalSecrets:
    """The generated credentials of one local stack."""

    livekit_api_key: str
    livekit_api_secret: str
    s3_access_key: str
    s3_secret_key: str
    secret_key: str


def _generate() -> LocalSecrets:
    return LocalSecrets(
        livekit_api_key="API" + secrets.token_hex(6),
        livekit_api_secret=secrets.token_urlsafe(32),
        s3_access_key="tiepdan" + secrets.token_hex(6),
        s3_secret_key=secrets.token_urlsafe(30),
        secret_key=secrets.token_urlsafe(48),
    )


def load_or_create_local_secrets(state_dir: Path) -> LocalSecrets:
    """Read ``{state_dir}/secrets.json``, creating it (mode 0600) with fresh secrets if absent."""
    path = state_dir / SECRETS_FILE
    if path.exists():
        return LocalSecrets(**json.loads(path.read_text()))
    state_dir.mkdir(parents=True, exist_ok=True)
    fresh = _generate()
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(asdict(fresh), f, indent=2)
    # Another process may have won the race: keep whichever file landed first.
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return LocalSecrets(**json.loads(path.read_text()))
