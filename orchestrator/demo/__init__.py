"""`tiepdan demo`: a whole reception session end to end on the embedded stack."""

from __future__ import annotations

from orchestrator.demo.client import DemoError
from orchestrator.demo.run import run_demo

__all__ = ["DemoError", "run_demo"]
