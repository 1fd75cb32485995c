"""The web process loads no media codec, speech model or document writer (issue 15).

import-linter's forbidden contract checks the import graph; this checks what a fresh interpreter
actually has in ``sys.modules`` once ``orchestrator.app`` is imported, so that an import hidden
from the graph (through ``importlib``, say) is caught too.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("av", "faster_whisper", "ctranslate2", "docx")


def test_importing_the_app_loads_no_heavy_library() -> None:
    probe = (
        "import json, sys\n"
        "import orchestrator.app\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert json.loads(out) == []


def test_the_probe_would_see_a_heavy_library() -> None:
    # The same probe, importing the recorder's encoder: PyAV must show (the test can fail).
    probe = "import json, sys\nimport media.encoder\nprint(json.dumps('av' in sys.modules))\n"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert json.loads(out) is True
