"""The pinned livekit-server build and its loopback-only configuration."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from config.errors import StackError
from config.settings import Settings

LIVEKIT_VERSION = "1.13.5"
LIVEKIT_MODULE = f"github.com/livekit/livekit-server/cmd/server@v{LIVEKIT_VERSION}"
# Where the official Go tarball installs itself, in case it is not on PATH.
_GO_FALLBACK_DIRS = ("/usr/local/go/bin",)
# Nothing listens here: clients that ask for STUN get an answer-less loopback address instead of
# reaching for public STUN servers.
_LOOPBACK_STUN = "127.0.0.1:3478"


def find_go(search_path: str | None = None) -> str | None:
    """The ``go`` executable on ``search_path`` (default: PATH and the usual install dirs)."""
    if search_path is None:
        search_path = os.pathsep.join([os.environ.get("PATH", ""), *_GO_FALLBACK_DIRS])
    return shutil.which("go", path=search_path)


def livekit_binary(bin_dir: Path) -> Path:
    """Where the built livekit-server lives."""
    return bin_dir / "livekit-server"


def installed_version(binary: Path) -> str | None:
    """The version the binary reports, or None if it is absent or broken."""
    if not binary.is_file():
        return None
    try:
        out = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.strip().rsplit(" ", 1)[-1] or None


def ensure_livekit_server(
    bin_dir: Path, go: str | None = None, search_path: str | None = None
) -> Path:
    """Build the pinned livekit-server into ``bin_dir`` unless it is already there.

    Args:
        bin_dir: where the binary is kept.
        go: the ``go`` executable; default: found on ``search_path``.
        search_path: where to look for ``go``; default: PATH and the usual install dirs.

    Raises:
        StackError: no Go toolchain, or the build failed (with go's output).
    """
    binary = livekit_binary(bin_dir)
    if installed_version(binary) == LIVEKIT_VERSION:
        return binary
    go = go or find_go(search_path)
    if go is None:
        raise StackError(
            f"livekit-server v{LIVEKIT_VERSION} is not built in {bin_dir} and no Go toolchain was "
            "found to build it. Install Go 1.26 or newer (https://go.dev/doc/install; it must be "
            "on PATH or in /usr/local/go/bin), then run `make setup` again."
        )
    bin_dir.mkdir(parents=True, exist_ok=True)
    print(f"building livekit-server v{LIVEKIT_VERSION} with {go} (once; minutes on a cold cache)")
    result = subprocess.run(
        [go, "install", LIVEKIT_MODULE],
        env={**os.environ, "GOBIN": str(bin_dir)},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise StackError(
            f"`go install {LIVEKIT_MODULE}` failed (exit {result.returncode}):\n"
            f"{result.stderr.strip()[-3000:]}"
        )
    os.replace(bin_dir / "server", binary)
    if installed_version(binary) != LIVEKIT_VERSION:
        raise StackError(f"{binary} does not report version {LIVEKIT_VERSION} after the build")
    return binary


def livekit_config(settings: Settings) -> dict[str, Any]:
    """The livekit-server configuration of the local stack: loopback only, generated keys."""
    lk = settings.livekit
    key = lk.api_key
    return {
        "port": lk.port,
        "bind_addresses": ["127.0.0.1"],
        "rtc": {
            "tcp_port": lk.rtc_tcp_port,
            "port_range_start": lk.rtc_udp_port_start,
            "port_range_end": lk.rtc_udp_port_end,
            "use_external_ip": False,
            "node_ip": "127.0.0.1",
            "enable_loopback_candidate": True,
            "ips": {"includes": ["127.0.0.1/32"]},
            "stun_servers": [_LOOPBACK_STUN],
        },
        "keys": {key: lk.api_secret.get_secret_value()},
        "webhook": {"api_key": key, "urls": [settings.web.livekit_webhook_url]},
        # Rooms exist only when the orchestrator creates them for a launched session.
        "room": {"auto_create": False},
        "logging": {"level": "info"},
    }


def write_livekit_config(settings: Settings, path: Path) -> Path:
    """Write the configuration (JSON, which is YAML) with mode 0600, as it holds the secret."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(livekit_config(settings), f, indent=2)
    return path
