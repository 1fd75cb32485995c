"""A join given up on half-way (media.room_join), on the real livekit-server: the process that
gave up lives on and exits, the room is left once joined, and the same participant's next join
is not pushed out by it.

With a plain ``asyncio.wait_for(room.connect(...))`` the rtc SDK's native side waited for a
"ready" the cancelled connect never sent, then panicked and sent the process SIGTERM (about 15 s
later, or at exit after about 11 s)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from datetime import timedelta

from livekit import api

from config import Settings
from media import mint_token
from media.grants import ParticipantKind, video_grants
from tests.integration.test_livekit import _lkapi

IDENTITY = "impatient"
GIVE_UP = """
import asyncio, sys
from livekit import rtc
from media.room_join import join, settle

async def main(url, token):
    room = rtc.Room()
    try:
        await join(room, url, token, rtc.RoomOptions(), timeout_s=0.001)
    except TimeoutError:
        print("gave up", flush=True)
    # The same participant again at once: the join given up on, once in, must not push it out.
    again = rtc.Room()
    await join(again, url, token, rtc.RoomOptions(), timeout_s=20)
    # The process lives on (the native side's panic came ~15 s after a given-up connect
    # completed, or at exit). Exiting at once after leaving aborts in the native side's own
    # teardown ("panic in a function that cannot unwind", rc -6), with or without this module.
    await asyncio.sleep(2)
    await settle(10)
    print("joined:", room.name, "- in the room after settling:", room.isconnected(), flush=True)
    print("the join after it is in:", again.isconnected(), flush=True)
    await again.disconnect()
    await asyncio.sleep(2)

asyncio.run(main(*sys.argv[1:]))
"""


async def test_a_join_given_up_on_leaves_the_room_and_the_process_exits(
    local_stack: Settings, unique_name: str
) -> None:
    lk = local_stack.livekit
    token = mint_token(lk, identity=IDENTITY, ttl=timedelta(minutes=5),
                       grants=video_grants(ParticipantKind.RECORDER, unique_name))  # fmt: skip
    async with _lkapi(local_stack) as lkapi:
        await lkapi.room.create_room(api.CreateRoomRequest(name=unique_name))
        try:
            t0 = time.monotonic()
            done = await asyncio.to_thread(
                subprocess.run, [sys.executable, "-c", GIVE_UP, lk.url, token],
                capture_output=True, text=True, timeout=30,
            )  # fmt: skip
            took_s = time.monotonic() - t0
            listed = await lkapi.room.list_participants(
                api.ListParticipantsRequest(room=unique_name)
            )
        finally:
            await lkapi.room.delete_room(api.DeleteRoomRequest(room=unique_name))
    print(f"exited {done.returncode} after {took_s:.1f} s")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == [
        "gave up",
        f"joined: {unique_name} - in the room after settling: False",
        "the join after it is in: True",
    ]
    assert IDENTITY not in [p.identity for p in listed.participants]
    assert took_s < 10.0, "the native side held the exit"
