"""Processes the local stack started, tracked by pid files so `down` stops only those."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

# The service processes this process started, by pid. A daemon outlives the call that started
# it, and a Popen collected while its process runs warns (an error under pytest, in whichever
# test the collection happened to fall): kept here until stopped, and then reaped through it.
_started: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class ManagedProcess:
    """One service process of the local stack: its pid file and log file."""

    name: str
    pid_file: Path
    log_file: Path

    def running(self) -> psutil.Process | None:
        """The process this pid file names, if it is still the one we started and alive."""
        try:
            record = json.loads(self.pid_file.read_text())
            proc = psutil.Process(record["pid"])
            # A recycled pid belongs to another process: compare start times.
            if abs(proc.create_time() - record["create_time"]) > 1.0:
                return None
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except (FileNotFoundError, ValueError, KeyError, psutil.Error):
            return None

    def start(self, command: list[str], env: dict[str, str], cwd: Path) -> psutil.Process:
        """Start ``command`` in its own session, logging to the log file, and record its pid."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(command)}\n".encode())
            popen = subprocess.Popen(
                command,
                cwd=cwd,
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _started[popen.pid] = popen
        proc = psutil.Process(popen.pid)
        self.pid_file.write_text(json.dumps({"pid": proc.pid, "create_time": proc.create_time()}))
        return proc

    def stop(self, timeout_s: float = 10.0) -> bool:
        """Stop the process (TERM, then KILL after ``timeout_s``); return whether one ran."""
        proc = self.running()
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                _, alive = psutil.wait_procs([proc], timeout=timeout_s)
                if alive:
                    os.killpg(proc.pid, signal.SIGKILL)
                    psutil.wait_procs(alive, timeout=timeout_s)
            except (ProcessLookupError, psutil.NoSuchProcess):
                pass
            popen = _started.pop(proc.pid, None)
            if popen is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    popen.wait(timeout_s)
        self.pid_file.unlink(missing_ok=True)
        return proc is not None

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the log, for error messages."""
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"
