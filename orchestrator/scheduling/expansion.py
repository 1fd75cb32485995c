"""Recurrences expanded off the web process, in a child process killed after a time limit.

:func:`~orchestrator.scheduling.recurrence.validate_rrule` refuses the rules known to make
dateutil run long (a BYSETPOS no period reaches, a day no month has), but not every rule that
never yields can be told from its text (``FREQ=DAILY;INTERVAL=7;BYDAY=TU`` from a Monday), and
dateutil looks for the next occurrence day by day until the year 9999. The expansion therefore
runs in a child process: the event loop and its GIL stay free, and a rule still running at the
limit is killed and refused. The child reads the requests as JSON on stdin and writes, for each,
its occurrences or the Vietnamese reason it has none.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from orchestrator.scheduling.recurrence import Occurrence, Recurrence, RecurrenceError, expand


@dataclass(frozen=True)
class Expansion:
    """One recurrence to expand: the arguments of :func:`recurrence.expand`."""

    first_start: datetime
    duration: timedelta
    recurrence: Recurrence
    window_start: datetime
    window_end: datetime


async def expand_off_loop(
    expansions: Sequence[Expansion], timeout_s: float
) -> list[list[Occurrence]]:
    """Expand every recurrence in one child process, within ``timeout_s`` for all of them.

    Returns:
        The occurrences of each expansion, in order (see :func:`recurrence.expand`).

    Raises:
        RecurrenceError: a rule is invalid, or the expansion ran past the time limit.
    """
    if not expansions:
        return []
    request = json.dumps([_encode(e) for e in expansions]).encode()
    command = [sys.executable, "-m", __name__]
    try:
        done = await asyncio.to_thread(
            subprocess.run, command, input=request, capture_output=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired as e:  # subprocess.run has killed the child
        raise RecurrenceError(
            f"Quy tắc lặp lại không tính được các phiên trong {timeout_s:g} giây (có thể nó "
            "không bao giờ xảy ra). Hãy kiểm tra lại quy tắc."
        ) from e
    if done.returncode != 0:
        raise RuntimeError(f"the expansion process failed: {done.stderr.decode()[-2000:]}")
    results: list[dict[str, Any]] = json.loads(done.stdout)
    for result in results:
        if "error" in result:
            raise RecurrenceError(result["error"])
    return [
        [Occurrence(datetime.fromisoformat(s), datetime.fromisoformat(e)) for s, e in r["starts"]]
        for r in results
    ]


def _encode(e: Expansion) -> dict[str, Any]:
    return {
        "first_start": e.first_start.isoformat(),
        "duration_s": e.duration.total_seconds(),
        "rrule": e.recurrence.rrule,
        "exdates": [d.isoformat() for d in e.recurrence.exdates],
        "window": [e.window_start.isoformat(), e.window_end.isoformat()],
    }


def _expand_one(request: dict[str, Any]) -> dict[str, Any]:
    try:
        occurrences = expand(
            datetime.fromisoformat(request["first_start"]),
            timedelta(seconds=request["duration_s"]),
            Recurrence(request["rrule"], tuple(map(datetime.fromisoformat, request["exdates"]))),
            *map(datetime.fromisoformat, request["window"]),
        )
    except RecurrenceError as e:
        return {"error": e.message_vi}
    return {"starts": [[o.start.isoformat(), o.end.isoformat()] for o in occurrences]}


def main() -> None:
    """The child process: requests on stdin, results on stdout, both JSON."""
    json.dump([_expand_one(r) for r in json.load(sys.stdin)], sys.stdout)


if __name__ == "__main__":
    main()
