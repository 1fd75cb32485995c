"""Bridge latency and cost: a click train through a bridge, and the CPU of the bridges.

A bot in a provincial room plays a click (5 ms of 2 kHz) every 500 ms. One hidden listener hears
it straight from the provincial room, another hears it in the central room through the bridge;
the added one-way latency of each click is the difference of its onset times (each onset placed
by its sample position in the frame that carried it). The bridges run in a child process of
their own (this file with ``--child``) so that psutil's CPU reading for them leaves out the bots
and listeners; the CPU per bridged audio link is measured with 1 and with N links (every
provincial room with a speaking bot; talk-back off, the usual case), and with talk-back on for
one of them, and for one link relaying a moving 720p camera at 15 fps as well.

How to run it, and the latest figures: ``benchmarks/README.md``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
from livekit import api, rtc

from config import load_settings
from media.assignments import BridgeAssignment
from media.bridge import BridgeRunner
from media.voice_bot import VoiceBot

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the same bots as the tests
from tests.audio import sine  # noqa: E402
from tests.bridge_rooms import RATE, Ear, Eye, create_room, play_forever, voice  # noqa: E402

CLICK_EVERY_S = 0.5
FPS = 15
THRESHOLD = 3000  # a click peaks near 16 000; silence and codec noise stay far below
TARGET_P95_MS = 150.0


async def moving_camera(bot: VoiceBot) -> asyncio.Task[None]:
    """A 1280x720 camera on ``bot``: a white bar crossing a grey picture, FPS frames a second."""
    width, height = 1280, 720
    source = rtc.VideoSource(width, height)
    track = rtc.LocalVideoTrack.create_video_track("camera", source)
    options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA)
    await bot.room.local_participant.publish_track(track, options)
    frames = []
    for i in range(FPS * 2):
        pixels = np.full((height, width, 4), 96, dtype=np.uint8)
        x = i * width // (FPS * 2)
        pixels[:, x : x + 64, :3] = 255
        frames.append(rtc.VideoFrame(width, height, rtc.VideoBufferType.RGBA, pixels.tobytes()))

    async def loop() -> None:
        i = 0
        while True:
            source.capture_frame(frames[i % len(frames)])
            i += 1
            await asyncio.sleep(1 / FPS)

    return asyncio.create_task(loop())


def click_train(seconds: float) -> np.ndarray:
    """A 5 ms 2 kHz burst every CLICK_EVERY_S, silence between."""
    period = np.zeros(int(CLICK_EVERY_S * RATE), dtype=np.int16)
    burst = sine(2000, 0.005, RATE)
    period[: len(burst)] = burst
    return np.tile(period, int(seconds / CLICK_EVERY_S))


def onsets(ear: Ear) -> list[float]:
    """Monotonic times of click onsets heard by ``ear``."""
    found: list[float] = []
    for arrived, chunk in ear.chunks:
        loud = np.flatnonzero(np.abs(chunk.astype(np.int32)) > THRESHOLD)
        for index in loud:
            t = arrived - (len(chunk) - index) / RATE
            if not found or t - found[-1] > CLICK_EVERY_S / 2:
                found.append(t)
    return found


def added_latency_ms(direct: list[float], bridged: list[float]) -> list[float]:
    """For each click heard directly, how much later it was heard through the bridge."""
    out = []
    for t in direct:
        later = [b - t for b in bridged if 0 <= b - t < CLICK_EVERY_S * 0.8]
        if later:
            out.append(1000 * later[0])
    return out


# -- the child: bridges only -----------------------------------------------------------------


async def child(assignments: list[BridgeAssignment]) -> None:
    runner = BridgeRunner(load_settings().livekit)
    await runner.reconcile(assignments)
    while len(runner.running) < len(assignments):
        await asyncio.sleep(0.1)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    await runner.aclose()


# -- the parent ------------------------------------------------------------------------------


def start_child(assignments: list[BridgeAssignment]) -> subprocess.Popen[str]:
    data = json.dumps([dataclasses.asdict(a) for a in assignments])
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", data],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError("bridge child did not start")
    return proc


def stop_child(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write("\n")
    proc.stdin.flush()
    proc.wait(timeout=30)


async def cpu_share(proc: subprocess.Popen[str], seconds: float) -> float:
    """CPU seconds per wall second of ``proc`` over ``seconds``."""
    p = psutil.Process(proc.pid)
    before, t0 = p.cpu_times(), time.monotonic()
    await asyncio.sleep(seconds)
    after, t1 = p.cpu_times(), time.monotonic()
    return (after.user + after.system - before.user - before.system) / (t1 - t0)


async def main(n_links: int, seconds: float) -> None:
    settings = load_settings()
    lk = settings.livekit
    async with api.LiveKitAPI(lk.http_url, lk.api_key, lk.api_secret.get_secret_value()) as c:
        hub = await create_room(c, "bench-tw")
        rooms = [await create_room(c, f"bench-p{i}") for i in range(n_links)]
    links = [
        BridgeAssignment(i + 1, hub, "Ban Tiếp công dân Trung ương", room, f"Tỉnh {i}", False)
        for i, room in enumerate(rooms)
    ]
    bots = [await voice(lk, room, f"point-{i}") for i, room in enumerate(rooms)]
    players = [asyncio.create_task(play_forever(b, click_train(10.0))) for b in bots]

    proc = start_child(links[:1])
    direct = await Ear.join(lk, rooms[0], "point-0")
    bridged = await Ear.join(lk, hub, "bridge-1-up")
    await asyncio.sleep(2.0)
    t0 = time.monotonic()
    one = await cpu_share(proc, seconds)
    direct.chunks = [c for c in direct.chunks if c[0] >= t0]
    bridged.chunks = [c for c in bridged.chunks if c[0] >= t0]
    latency = added_latency_ms(onsets(direct), onsets(bridged))
    stop_child(proc)

    proc = start_child(links)
    await asyncio.sleep(2.0)
    many = await cpu_share(proc, seconds)
    stop_child(proc)
    proc = start_child([dataclasses.replace(links[0], talk_back=True), *links[1:]])
    await asyncio.sleep(2.0)
    talk_back = await cpu_share(proc, seconds)
    stop_child(proc)

    camera = await moving_camera(bots[0])
    proc = start_child([dataclasses.replace(links[0], video=True)])
    viewer = await Eye.join(lk, hub, "bridge-1-up")  # someone watches the relayed camera
    await asyncio.sleep(3.0)
    video = await cpu_share(proc, seconds)
    seen = viewer.size
    stop_child(proc)
    camera.cancel()
    await viewer.aclose()

    for task in players:
        task.cancel()
    for thing in (direct, bridged, *bots):
        await thing.aclose()
    async with api.LiveKitAPI(lk.http_url, lk.api_key, lk.api_secret.get_secret_value()) as c:
        for room in (hub, *rooms):
            await c.room.delete_room(api.DeleteRoomRequest(room=room))

    p50, p95 = np.percentile(latency, [50, 95])
    print(f"clicks matched: {len(latency)} of {int(seconds / CLICK_EVERY_S)}")
    print(f"added one-way latency: p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {max(latency):.0f} ms"
          f" (target p95 <= {TARGET_P95_MS:.0f} ms: ratio {p95 / TARGET_P95_MS:.2f})")  # fmt: skip
    print(f"bridge CPU, 1 audio link: {one:.3f} CPU")
    print(f"bridge CPU, {n_links} audio links: {many:.3f} CPU = {many / n_links:.3f} per link")
    print(f"bridge CPU, {n_links} links, talk-back on one: {talk_back:.3f} CPU "
          f"(talk-back adds {talk_back - many:.3f})")  # fmt: skip
    print(f"bridge CPU, 1 link with 720p video at {FPS} fps: {video:.3f} CPU "
          f"(video adds {video - one:.3f} per link; the hub saw {seen})")  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        asyncio.run(child([BridgeAssignment(**a) for a in json.loads(sys.argv[2])]))
    else:
        n = int(sys.argv[1]) if len(sys.argv) > 1 else 4
        secs = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
        asyncio.run(main(n, secs))
