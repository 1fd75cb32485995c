"""What both halves of a bridge (audio, video) share: how a bridge's participants are
recognised, so that no bridge ever relays another's media, how their tasks stop, and how the
tracks they subscribe to are read."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from livekit import rtc

BRIDGE_KIND = "bridge"
IDENTITY_PREFIX = "bridge-"


def is_bridge(participant: rtc.Participant) -> bool:
    """Whether ``participant`` is some bridge's (this one's or another's)."""
    return (
        participant.identity.startswith(IDENTITY_PREFIX)
        or participant.attributes.get("kind") == BRIDGE_KIND
    )


async def stop_task(task: asyncio.Task[None] | None) -> None:
    """Cancel ``task`` (if any) and wait until it has stopped."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class TrackReaders:
    """Reads each track of ``room`` it is subscribed to and ``wanted`` accepts, in one named task
    per track, until the track is unsubscribed (or :meth:`keep_only`, :meth:`aclose`).

    Args:
        room: the room (not auto-subscribing: the owner subscribes to what it wants).
        wanted: whether the track of this publication, of this participant, is to be read.
        read: reads one track; cancelled when it is no longer to be read.
    """

    def __init__(
        self,
        room: rtc.Room,
        wanted: Callable[[rtc.RemoteTrackPublication, rtc.RemoteParticipant], bool],
        read: Callable[[rtc.Track], Coroutine[Any, Any, None]],
    ) -> None:
        self._wanted = wanted
        self._read = read
        self._tasks: dict[str, asyncio.Task[None]] = {}
        room.on("track_subscribed", self._on_subscribed)
        room.on("track_unsubscribed", lambda track, *_: self._stop(track.sid))

    def keep_only(self, sid: str) -> None:
        """Stop reading every track but the one of ``sid``."""
        for other in [s for s in self._tasks if s != sid]:
            self._stop(other)

    async def aclose(self) -> None:
        """Stop reading every track, and wait until each reader has stopped."""
        tasks, self._tasks = list(self._tasks.values()), {}
        for task in tasks:
            await stop_task(task)

    def _on_subscribed(
        self,
        track: rtc.Track,
        publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        if track.sid in self._tasks or not self._wanted(publication, participant):
            return
        self._tasks[track.sid] = asyncio.create_task(
            self._read(track), name=f"read {participant.identity} {track.sid}"
        )

    def _stop(self, sid: str) -> None:
        task = self._tasks.pop(sid, None)
        if task is not None:
            task.cancel()
