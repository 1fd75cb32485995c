"""Joining a LiveKit room without ever abandoning a connect half-way.

Once a connect completes, the rtc SDK's native side waits for the Python side to say that it is
ready for the room's events. A connect whose ``await`` was cancelled (a timeout around it, a task
cancelled at shutdown) never says so, and about 15 s later the native side panics and sends its
own process SIGTERM (measured with livekit 1.2.1): a recorder's join that timed out would take the
whole media agent down with it, and the board's watch of a room, cancelled by a shutdown, held
``tiepdan serve`` past docker stop's 10 s.

So every connect runs to its end in a task of its own (the SDK bounds it: a signal timeout per
attempt). A caller that stops waiting gets its ``TimeoutError`` or its cancellation at once; the
room is left as soon as it is in. Before a process's event loop ends, :func:`settle` waits for
those.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from livekit import rtc

_PENDING: set[asyncio.Task[None]] = set()
"""Connects no caller waits for any more, and the leaving of the rooms they joined."""


async def join(
    room: rtc.Room, url: str, token: str, options: rtc.RoomOptions, *, timeout_s: float
) -> None:
    """``room.connect``, waited for at most ``timeout_s``; a join given up on (the timeout, or
    the caller cancelled) still completes, and then leaves the room."""
    connecting = asyncio.ensure_future(room.connect(url, token, options))
    try:
        await asyncio.wait_for(asyncio.shield(connecting), timeout_s)
    except BaseException:
        if not connecting.done():
            _keep(connecting)
            connecting.add_done_callback(lambda done: _leave_if_in(room, done))
        raise


def _keep(task: asyncio.Future[None] | Coroutine[Any, Any, None]) -> None:
    kept = asyncio.ensure_future(task)
    _PENDING.add(kept)
    kept.add_done_callback(_PENDING.discard)


def _leave_if_in(room: rtc.Room, connecting: asyncio.Future[None]) -> None:
    # Reading the exception also keeps asyncio from logging it as never retrieved.
    if not connecting.cancelled() and connecting.exception() is None:
        _keep(room.disconnect())


async def settle(timeout_s: float) -> None:
    """Wait, at most ``timeout_s``, for the joins given up on to complete and leave their
    rooms: before the event loop ends, which would cancel them."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while _PENDING and (left := deadline - loop.time()) > 0:
        await asyncio.wait(set(_PENDING), timeout=left)
