"""The embedded local stack: livekit-server, a SeaweedFS S3 gateway and Redis, on loopback only.

``LocalStack(settings).up()`` is idempotent: it reuses parts that are already healthy, restarts
parts of ours that died, refuses to start anything when a port is taken, and never leaves a
half-started stack behind. ``down()`` stops only the processes it started.
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from config.errors import PortInUseError, StackError
from config.local_stack.livekit import LIVEKIT_VERSION, ensure_livekit_server
from config.local_stack.parts import Part, stack_parts
from config.local_stack.ports import taken_ports
from config.local_stack.processes import ManagedProcess
from config.settings import Settings

__all__ = ["LIVEKIT_VERSION", "LocalStack", "PartStatus", "ensure_livekit_server"]


@dataclass(frozen=True)
class PartStatus:
    """What one part of the stack is doing now."""

    name: str
    healthy: bool
    pid: int | None
    detail: str

    def describe(self) -> str:
        """One line for `stack status`."""
        state = "healthy" if self.healthy else "DOWN"
        pid = f" pid {self.pid}" if self.pid else ""
        return f"{self.name:8} {state:8}{pid}  {self.detail}"


def _health_error(part: Part) -> str | None:
    try:
        part.check_health()
    except Exception as e:  # noqa: BLE001 - any failure means unhealthy; the text says why
        return f"{type(e).__name__}: {e}"
    return None


class LocalStack:
    """Start, inspect and stop the local stack described by ``settings``."""

    def __init__(
        self,
        settings: Settings,
        venv_bin: Path | None = None,
        report: Callable[[str], None] = print,
        with_postgres: bool = False,
    ) -> None:
        self.settings = settings
        # PostgreSQL is optional; once started it belongs to the stack until `down`.
        with_postgres = with_postgres or (settings.paths.run_dir / "postgres.pid").exists()
        self.parts = stack_parts(
            settings, venv_bin or Path(sys.executable).parent, with_postgres=with_postgres
        )
        self.report = report

    def _process(self, part: Part) -> ManagedProcess:
        paths = self.settings.paths
        return ManagedProcess(
            part.name, paths.run_dir / f"{part.name}.pid", paths.logs_dir / f"{part.name}.log"
        )

    def _status(self, part: Part) -> PartStatus:
        proc = self._process(part).running()
        error = _health_error(part)
        pid = proc.pid if proc else None
        if error is None:
            detail = "started by tiepdan" if proc else "running, not started by tiepdan"
            return PartStatus(part.name, True, pid, detail)
        if proc is not None:
            return PartStatus(part.name, False, pid, f"running but not answering: {error}")
        log = self._process(part).log_file
        return PartStatus(part.name, False, None, f"not running (log: {log})")

    def status(self) -> list[PartStatus]:
        """The health of every part, checked for real."""
        return [self._status(part) for part in self.parts]

    def up(self) -> list[str]:
        """Start what is not healthy; return one line per part saying what happened and when."""
        statuses = {s.name: s for s in self.status()}
        to_start = [p for p in self.parts if not statuses[p.name].healthy]
        for part in to_start:
            if statuses[part.name].pid is not None:
                self.report(f"{part.name}: {statuses[part.name].detail}; restarting it")
                self._process(part).stop()
        taken = taken_ports(
            [port for p in to_start for port in p.tcp_ports],
            [port for p in to_start for port in p.udp_ports],
        )
        if taken:
            raise PortInUseError(
                "cannot start the local stack; nothing was started:\n  "
                + "\n  ".join(h.describe() for h in taken)
                + "\nStop that process, or move tiepdan to other ports (TIEPDAN_* settings)."
            )
        if any(p.name == "livekit" for p in to_start):
            assert self.settings.paths.bin_dir is not None
            ensure_livekit_server(self.settings.paths.bin_dir)

        lines = [f"{p.name:8} reused (already healthy)" for p in self.parts if p not in to_start]
        started: list[Part] = []
        try:
            for part in to_start:
                t0 = time.monotonic()
                self._start(part)
                started.append(part)
                lines.append(f"{part.name:8} started in {time.monotonic() - t0:.1f} s")
                self.report(lines[-1])
        except BaseException:
            for part in reversed(started):
                self._process(part).stop()
            raise
        return lines

    def _start(self, part: Part) -> None:
        part.prepare()
        proc_handle = self._process(part)
        proc_handle.start(part.command, part.env, cwd=self.settings.paths.state_dir)
        deadline = time.monotonic() + part.startup_timeout_s
        error: str | None = "not checked yet"
        while time.monotonic() < deadline:
            if proc_handle.running() is None:
                proc_handle.stop()
                raise StackError(
                    f"{part.name} exited while starting. Last log lines "
                    f"({proc_handle.log_file}):\n{proc_handle.log_tail()}"
                )
            error = _health_error(part)
            if error is None:
                return
            time.sleep(0.2)
        proc_handle.stop()
        raise StackError(
            f"{part.name} did not become healthy within {part.startup_timeout_s:.0f} s "
            f"({error}). Last log lines ({proc_handle.log_file}):\n{proc_handle.log_tail()}"
        )

    def down(self) -> list[str]:
        """Stop the processes this stack started, newest first; name each one stopped."""
        return [p.name for p in reversed(self.parts) if self._process(p).stop()]

    def env_lines(self) -> list[str]:
        """``export NAME=value`` lines that let any client reach the stack."""
        s = self.settings
        values = {
            "LIVEKIT_URL": s.livekit.url,
            "LIVEKIT_API_KEY": s.livekit.api_key,
            "LIVEKIT_API_SECRET": s.livekit.api_secret.get_secret_value(),
            "AWS_ACCESS_KEY_ID": s.s3.access_key,
            "AWS_SECRET_ACCESS_KEY": s.s3.secret_key.get_secret_value(),
            "AWS_ENDPOINT_URL": s.s3.endpoint,
            "AWS_REGION": s.s3.region,
            "TIEPDAN_PATHS__STATE_DIR": str(s.paths.state_dir),
            "TIEPDAN_PATHS__BIN_DIR": str(s.paths.bin_dir),
            "TIEPDAN_LIVEKIT__URL": s.livekit.url,
            "TIEPDAN_LIVEKIT__API_KEY": s.livekit.api_key,
            "TIEPDAN_LIVEKIT__API_SECRET": s.livekit.api_secret.get_secret_value(),
            "TIEPDAN_S3__ENDPOINT": s.s3.endpoint,
            "TIEPDAN_S3__ACCESS_KEY": s.s3.access_key,
            "TIEPDAN_S3__SECRET_KEY": s.s3.secret_key.get_secret_value(),
            "TIEPDAN_S3__REGION": s.s3.region,
            "TIEPDAN_S3__BUCKET": s.s3.bucket,
            "TIEPDAN_BROKER__URL": s.broker.url,
            "TIEPDAN_DB__URL": s.db.url,
            "TIEPDAN_SECURITY__SECRET_KEY": s.security.secret_key.get_secret_value(),
            "TIEPDAN_WEB__PUBLIC_URL": s.web.public_url,
        }
        return [f"export {name}={shlex.quote(value)}" for name, value in values.items()]
