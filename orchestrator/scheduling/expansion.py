"""Recurrences expanded off the web process, in a child process killed after a time limit.

:func:`~orchestrator.scheduling.recurrence.validate_rrule` refuses the rules known to make
dateutil run long (a BYSETPOS no period reaches, a day no month has), but not every rule that
never yields can be told from its text (``FREQ=DAILY;INTERVAL=7;BYDAY=TU`` from a Monday), and
dateutil looks for the next occurrence day by day until the year 9999. The expansion therefore
runs in a child process: the event loop and its GIL stay free, and a rule still running at the
limit is killed and refused. The child reads the requests as JSON on stdin and writes, for each,
its occurrences or the Vietnamese reason it has none. At most :data:`MAX_CHILDREN` run at once
in a process; more wait their turn, and a request that waits too long is told the server is busy
(a flood of series must not start an interpreter each).
"""

from __future__ import annotations

import asyncio
import json
import sys
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from orchestrator.core.errors import UpstreamUnavailable
from orchestrator.scheduling.recurrence import Occurrence, Recurrence, RecurrenceError, expand

READY = b"ready\n"
"""What the child writes once its imports are done: the time limit starts then."""
STARTUP_TIMEOUT_S = 60.0
"""How long the child may take to start (an interpreter start, not the rule's work)."""
MAX_CHILDREN: Final = 2
"""Expansion processes running at once (this machine kind has two cores)."""
TURN_TIMEOUT_S: Final = 30.0
"""How long a request waits for its turn before it is told the server is busy."""

_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _turn() -> asyncio.Semaphore:
    """The running loop's turns (a semaphore belongs to one loop)."""
    loop = asyncio.get_running_loop()
    if loop not in _turns:
        _turns[loop] = asyncio.Semaphore(MAX_CHILDREN)
    return _turns[loop]


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
    turn = _turn()
    try:
        await asyncio.wait_for(turn.acquire(), TURN_TIMEOUT_S)
    except TimeoutError as e:
        raise UpstreamUnavailable(
            "Máy chủ đang bận tính các phiên lặp lại của người khác. Xin thử lại sau ít phút."
        ) from e
    try:
        return await _expand_in_child(expansions, timeout_s)
    finally:
        turn.release()


async def _expand_in_child(
    expansions: Sequence[Expansion], timeout_s: float
) -> list[list[Occurrence]]:
    request = json.dumps([_encode(e) for e in expansions]).encode()
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", __name__,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert child.stdin is not None and child.stdout is not None
    try:
        # The limit is the expansion's, not the interpreter's start: on a busy machine starting
        # Python and importing dateutil alone took more than 3 s.
        ready = await asyncio.wait_for(child.stdout.readline(), STARTUP_TIMEOUT_S)
        if ready != READY:
            raise RuntimeError(f"the expansion process did not start: {ready!r}")
        done = await asyncio.wait_for(child.communicate(request), timeout_s)
    except TimeoutError as e:
        child.kill()
        await child.wait()
        raise RecurrenceError(
            f"Quy tắc lặp lại không tính được các phiên trong {timeout_s:g} giây (có thể nó "
            "không bao giờ xảy ra). Hãy kiểm tra lại quy tắc."
        ) from e
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    stdout, stderr = done
    if child.returncode != 0:
        raise RuntimeError(f"the expansion process failed: {stderr.decode()[-2000:]}")
    results: list[dict[str, Any]] = json.loads(stdout)
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
    """The child process: says it is ready once its imports are done, then reads the requests on
    stdin and writes the results on stdout, both JSON."""
    sys.stdout.buffer.write(READY)
    sys.stdout.flush()
    json.dump([_expand_one(r) for r in json.load(sys.stdin)], sys.stdout)


if __name__ == "__main__":
    main()
