"""`tiepdan demo`: a whole reception session end to end on the embedded stack."""

from __future__ import annotations

from orchestrator.cli.demo.client import DemoError
from orchestrator.cli.demo.run import DemoRun, Spoken, run_demo, until_interrupted

__all__ = ["DemoError", "DemoRun", "Spoken", "run_demo", "until_interrupted"]
