"""What both halves of a bridge (audio, video) share: how a bridge's participants are
recognised, so that no bridge ever relays another's media, and how their tasks stop."""

from __future__ import annotations

import asyncio
import contextlib

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
