"""The repository's layout: no two Python modules share a base name, except the conventional ones.

Two modules called ``archive`` (or ``recorder``) make every traceback, import and search
ambiguous; the kinds of file every stage package has (``routes``, ``service``...) are the
exception. The modules are the files git tracks or would track (untracked, not ignored), so a
new file is checked before it is added, and nothing under ``.venv`` or ``node_modules`` is.
"""

from __future__ import annotations

import subprocess
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The kinds of module each package may have one of (STYLE.md, issue 15).
CONVENTIONAL = frozenset(
    {"__init__", "errors", "routes", "service", "schemas", "models", "cli", "tasks", "conftest"}
)
# Alembic names its revision files itself.
GENERATED = PurePosixPath("orchestrator/db/migrations/versions")


def shared_base_names(paths: Iterable[PurePosixPath]) -> dict[str, list[str]]:
    """Base names held by more than one module, each with its paths (conventional names and
    generated migrations left out)."""
    by_name: defaultdict[str, list[str]] = defaultdict(list)
    for path in paths:
        if path.suffix == ".py" and GENERATED not in path.parents and path.stem not in CONVENTIONAL:
            by_name[path.stem].append(str(path))
    return {name: sorted(found) for name, found in sorted(by_name.items()) if len(found) > 1}


def repository_modules() -> list[PurePosixPath]:
    """The Python files of this checkout that git tracks or would track."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", "*.py"],
            cwd=ROOT, capture_output=True, text=True, check=True, timeout=30,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"the layout is read from git, and this is no git checkout: {e}")
    # A file deleted but not yet `git rm`-ed is still listed by --cached; a file with a merge
    # conflict is listed once per side.
    paths = {p for p in listed.split("\0") if p and (ROOT / p).exists()}
    return [PurePosixPath(p) for p in sorted(paths)]


@pytest.mark.parametrize(
    ("paths", "shared"),
    [
        (["storage/archive.py", "benchmarks/archive.py"],
         {"archive": ["benchmarks/archive.py", "storage/archive.py"]}),
        (["storage/archive.py", "benchmarks/bench_archive.py"], {}),
        (["orchestrator/live/routes.py", "orchestrator/search/routes.py"], {}),
        (["orchestrator/db/migrations/versions/env.py", "orchestrator/db/migrations/env.py"], {}),
        (["web/src/join.js", "orchestrator/web/static/join.js"], {}),
    ],
)  # fmt: skip
def test_shared_base_names(paths: list[str], shared: dict[str, list[str]]) -> None:
    assert shared_base_names(PurePosixPath(p) for p in paths) == shared


def test_no_two_modules_share_a_base_name() -> None:
    modules = repository_modules()
    assert PurePosixPath("orchestrator/app.py") in modules  # the listing is this repository's
    assert shared_base_names(modules) == {}
