"""Joining a LiveKit room without ever abandoning a connect half-way.

Once a connect completes, the rtc SDK's native side waits for the Python side to say that it is
ready for the room's events. A connect whose ``await`` was cancelled (a timeout around it, a task
cancelled at shutdown) never says so, and about 15 s later the native side panics and sends its
own process SIGTERM (measured with livekit 1.2.1): a recorder's join that timed out would take the
whole media agent down with it, and the board's watch of a room, cancelled by a shutdown, held
``tiepdan serve`` past docker stop's 10 s.

So every connect runs to its end in a task of its own (the SDK bounds it: a signal timeout per
attempt). A caller that stops waiting gets its ``TimeoutError`` or its cancellation at once; the
room is left as soon as it is in. A join given up on would, once in, push out a later join of the
same participant (LiveKit keeps the newest of one identity in a room), so the next join with the
same room and identity waits for it to be over first. Before a process's event loop ends,
:func:`settle` waits for them.
"""

from __future__ import annotations

import asyncio
import logging

import jwt
from livekit import rtc

log = logging.getLogger(__name__)

_given_up: dict[str, asyncio.Task[None]] = {}
"""Per participant (room and identity): the join given up on, still to complete and leave."""


async def join(
    room: rtc.Room, url: str, token: str, options: rtc.RoomOptions, *, timeout_s: float
) -> None:
    """``room.connect``, waited for at most ``timeout_s`` in all; a join given up on (the
    timeout, or the caller cancelled) still completes, and then leaves the room."""
    who = _participant(token)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    earlier = _given_up.get(who)
    if earlier is not None:
        await asyncio.wait_for(asyncio.shield(earlier), timeout_s)
    connecting = asyncio.ensure_future(room.connect(url, token, options))
    try:
        await asyncio.wait_for(asyncio.shield(connecting), max(0.0, deadline - loop.time()))
    except BaseException:
        leaving = _given_up[who] = asyncio.ensure_future(_leave_once_in(room, connecting))
        leaving.add_done_callback(lambda done: _forget(who, done))
        raise


def _participant(token: str) -> str:
    """The room and identity ``token`` lets in (read, not verified: LiveKit verifies it)."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return f"{claims.get('video', {}).get('room', '')}/{claims.get('sub', '')}"


def _forget(who: str, leaving: asyncio.Task[None]) -> None:
    if _given_up.get(who) is leaving:
        del _given_up[who]


async def _leave_once_in(room: rtc.Room, connecting: asyncio.Future[None]) -> None:
    await asyncio.wait({connecting})
    if connecting.cancelled() or connecting.exception() is not None:
        return  # never in
    try:
        await room.disconnect()
    except Exception:
        log.warning("could not leave %s after a join given up on", room.name, exc_info=True)


async def settle(timeout_s: float) -> None:
    """Wait, at most ``timeout_s``, for the joins given up on to complete and leave their
    rooms: before the event loop ends, which would cancel them."""
    if _given_up:
        await asyncio.wait(set(_given_up.values()), timeout=timeout_s)
