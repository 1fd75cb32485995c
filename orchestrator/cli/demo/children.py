"""The demo's long-running parts, each a `tiepdan` subprocess with its own log file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TIEPDAN = str(Path(sys.executable).parent / "tiepdan")
STOP_TIMEOUT_S = 20.0


class DemoProcesses:
    """``tiepdan serve``, ``tiepdan media`` and ``tiepdan worker``, started and stopped together.

    Args:
        log_dir: where each part writes ``<name>.log``.
        config_file: the settings file the demo was started with, passed on to each part.
    """

    def __init__(self, log_dir: Path, config_file: Path | None) -> None:
        self.log_dir = log_dir
        self.env = {**os.environ, **({"TIEPDAN_CONFIG": str(config_file)} if config_file else {})}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> None:
        """Run ``tiepdan ARGS`` as the part ``name``."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{name}.log").open("ab") as log:
            self.procs[name] = subprocess.Popen(
                [TIEPDAN, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def log(self, name: str) -> Path:
        """The log file of the part ``name``."""
        return self.log_dir / f"{name}.log"

    def dead(self) -> list[str]:
        """Parts that have exited, with their exit status."""
        return [f"{n} (exit {p.returncode})" for n, p in self.procs.items() if p.poll() is not None]

    def stop(self) -> None:
        """SIGTERM every part, wait, then SIGKILL what is left."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()
