"""Recorder cost: N rooms x 3 speakers publishing for 60 s, recorded by one recorder process.

The recorders run in a child process of their own (this same file with ``--child``), so that the
CPU time read for them (psutil: the process plus any child processes; none since the encoder
runs in process) leaves out the bots that publish. Prints the CPU seconds per track-second,
tracks per CPU core, the ratio to LiveKit Egress's admission cost for a track egress (0.5 CPU
per track, i.e. 2 tracks per core), and the resident memory per track. With ``--video`` each
speaker publishes a 1280x720 camera at 30 fps instead of a microphone, recorded as with
``media.video`` on (640x360, 15 fps, H.264), and the figures are per camera.

How to run it, and the latest figures: ``benchmarks/README.md``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import sys
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from livekit import api, rtc

from config import Settings, load_settings
from media import mint_token
from media.clock import SessionClock
from media.recorder import RoomRecorder
from media.room_join import join

SPEAKERS = 3
RATE = 48000
CHUNK = RATE // 10  # bots push 100 ms at a time: cheap for them, paced by the AudioSource
TARGET_TRACKS_PER_CORE = 40
EGRESS_TRACKS_PER_CORE = 2  # LiveKit Egress admits a track egress at 0.5 CPU
CAMERA = (1280, 720, 30)  # width, height, fps of each bot's camera with --video


def _lkapi(settings: Settings) -> api.LiveKitAPI:
    lk = settings.livekit
    return api.LiveKitAPI(lk.http_url, lk.api_key, lk.api_secret.get_secret_value())


# -- the child: recorders only ---------------------------------------------------------------


def _thread_cpu(proc: psutil.Process) -> dict[str, float]:
    """CPU seconds per thread name: the asyncio loop (Python) apart from WebRTC's own threads."""
    totals: dict[str, float] = {}
    for t in proc.threads():
        try:
            name = Path(f"/proc/{proc.pid}/task/{t.id}/comm").read_text().strip()
        except OSError:
            continue
        name = "python (event loop)" if t.id == proc.pid else name.rstrip("0123456789-_#")
        totals[name] = totals.get(name, 0.0) + t.user_time + t.system_time
    return totals


def _memory(proc: psutil.Process) -> tuple[int, int, int]:
    """RSS of the recorder process, and RSS and USS summed over its child processes."""
    rss, uss = 0, 0
    for child in proc.children():
        try:
            rss += child.memory_info().rss
            uss += child.memory_full_info().uss
        except psutil.NoSuchProcess:
            pass
    return proc.memory_info().rss, rss, uss


async def child(out_dir: Path, rooms: list[str], video: bool) -> None:
    """Record ``rooms``; report when every track is subscribed, stop on a line on stdin."""
    settings = load_settings()
    me = psutil.Process()
    baseline_rss = me.memory_info().rss
    clock = SessionClock()
    async with _lkapi(settings) as lkapi:
        recorders = [
            RoomRecorder(settings.livekit, room, out_dir / room, clock, lkapi=lkapi, video=video)
            for room in rooms
        ]
        await asyncio.gather(*(r.start() for r in recorders))
        while sum(len(r.active_track_sids) for r in recorders) < SPEAKERS * len(rooms):
            await asyncio.sleep(0.05)
        start, threads_start = me.cpu_times(), _thread_cpu(me)
        print("recording", flush=True)
        peak = (0, 0, 0)
        stop = asyncio.ensure_future(asyncio.to_thread(sys.stdin.readline))
        while not stop.done():
            await asyncio.wait([stop], timeout=5)
            peak = max(peak, _memory(me))
        threads = _thread_cpu(me)
        manifests = await asyncio.gather(*(r.finalize() for r in recorders))
        end = me.cpu_times()
        for r in recorders:
            await r.aclose()
    tracks = [t for m in manifests for t in (m.video_tracks if video else m.tracks)]
    print(
        json.dumps(
            {
                "cpu_recorder_s": (end.user + end.system) - (start.user + start.system),
                "cpu_ffmpeg_s": (end.children_user + end.children_system)
                - (start.children_user + start.children_system),
                "tracks": len(tracks),
                "track_seconds": sum(t.duration_s for t in tracks),
                "segments": sum(len(t.segments) for t in tracks),
                "rss_baseline": baseline_rss,
                "rss_peak": peak[0],
                "ffmpeg_rss": peak[1],
                "ffmpeg_uss": peak[2],
                "threads": {k: v - threads_start.get(k, 0.0) for k, v in threads.items()},
            }
        ),
        flush=True,
    )


# -- the parent: rooms, bots, figures --------------------------------------------------------


async def bot(
    settings: Settings, room: str, identity: str, video: bool
) -> tuple[rtc.Room, rtc.AudioSource | rtc.VideoSource]:
    lk = settings.livekit
    grants = api.VideoGrants(
        room_join=True, room=room, can_publish=True, can_subscribe=False, can_publish_data=False
    )
    token = mint_token(lk, identity=identity, grants=grants, ttl=timedelta(minutes=10))
    lkroom = rtc.Room()
    await join(lkroom, lk.url, token, rtc.RoomOptions(), timeout_s=20)
    if video:
        camera = rtc.VideoSource(CAMERA[0], CAMERA[1])
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA)
        camera_track = rtc.LocalVideoTrack.create_video_track("camera", camera)
        await lkroom.local_participant.publish_track(camera_track, options)
        return lkroom, camera
    source = rtc.AudioSource(RATE, 1)
    track = rtc.LocalAudioTrack.create_audio_track("mic", source)
    options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    await lkroom.local_participant.publish_track(track, options)
    return lkroom, source


async def play(source: rtc.AudioSource, freq: float, seconds: float) -> None:
    rng = np.random.default_rng(int(freq))
    t = np.arange(CHUNK) / RATE
    for i in range(int(seconds * RATE / CHUNK)):
        # A tone that wavers, over noise: not something Opus encodes for free.
        phase = 2 * np.pi * freq * (t + i * CHUNK / RATE)
        x = 6000 * np.sin(phase) * (1 + 0.5 * np.sin(2 * np.pi * 3 * (t + i * 0.1)))
        x += rng.normal(0, 800, CHUNK)
        frame = rtc.AudioFrame.create(RATE, 1, CHUNK)
        np.frombuffer(frame.data, dtype=np.int16)[:] = np.clip(x, -32767, 32767)
        await source.capture_frame(frame)
    await source.wait_for_playout()


def _moving_frames() -> list[rtc.VideoFrame]:
    """A second of pictures that change every frame (a sliding gradient over noise), so the
    encoder has real work; looped."""
    width, height, fps = CAMERA
    rng = np.random.default_rng(7)
    noise = rng.integers(0, 40, (height, width), dtype=np.uint8)
    ramp = np.tile(np.arange(width, dtype=np.uint16), (height, 1))
    frames = []
    for i in range(fps):
        luma = ((ramp + i * 16) % 200).astype(np.uint8) + noise
        rgba = np.stack([luma, luma // 2, 255 - luma, np.full_like(luma, 255)], axis=-1)
        frames.append(rtc.VideoFrame(width, height, rtc.VideoBufferType.RGBA, rgba.tobytes()))
    return frames


async def show(source: rtc.VideoSource, frames: list[rtc.VideoFrame], seconds: float) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i in range(int(seconds * CAMERA[2])):
        source.capture_frame(frames[i % len(frames)])
        await asyncio.sleep(max(0.0, start + (i + 1) / CAMERA[2] - loop.time()))


async def main(n_rooms: int, seconds: float, video: bool) -> None:
    settings = load_settings()
    run = uuid.uuid4().hex[:6]
    rooms = [f"bench-{run}-{i}" for i in range(n_rooms)]
    out_dir = Path(tempfile.mkdtemp(prefix="tiepdan-recorder-bench-"))
    async with _lkapi(settings) as lkapi:
        for room in rooms:
            await lkapi.room.create_room(api.CreateRoomRequest(name=room))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--child", "video" if video else "audio", str(out_dir),
            *rooms,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdin is not None and proc.stdout is not None
        try:
            bots = [
                await bot(settings, room, f"s{k}", video) for room in rooms for k in range(SPEAKERS)
            ]
            assert (await asyncio.wait_for(proc.stdout.readline(), 60)).strip() == b"recording"
            frames = _moving_frames() if video else []
            await asyncio.gather(
                *(
                    show(source, frames, seconds)
                    if isinstance(source, rtc.VideoSource)
                    else play(source, 300.0 + 70 * i, seconds)
                    for i, (_, source) in enumerate(bots)
                )
            )
            proc.stdin.write(b"stop\n")
            await proc.stdin.drain()
            stats: dict[str, Any] = json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))
            await proc.wait()
            for lkroom, _ in bots:
                await lkroom.disconnect()
        finally:
            if proc.returncode is None:
                proc.kill()
            for room in rooms:
                await lkapi.room.delete_room(api.DeleteRoomRequest(room=room))
            shutil.rmtree(out_dir, ignore_errors=True)
    report(stats, n_rooms, seconds, video)


def report(stats: dict[str, Any], n_rooms: int, seconds: float, video: bool) -> None:
    mib = 1024 * 1024
    tracks, track_s = stats["tracks"], stats["track_seconds"]
    cpu = stats["cpu_recorder_s"] + stats["cpu_ffmpeg_s"]
    per_track_s = cpu / track_s
    per_core = 1 / per_track_s
    rss_track = (stats["rss_peak"] - stats["rss_baseline"]) / tracks / mib
    what = f"cameras ({CAMERA[0]}x{CAMERA[1]} at {CAMERA[2]} fps)" if video else "speakers"
    print(f"{n_rooms} rooms x {SPEAKERS} {what} x {seconds:.0f} s: {tracks} tracks, "
          f"{track_s:.1f} track-seconds recorded in {stats['segments']} segments")  # fmt: skip
    print(f"CPU: recorder process {stats['cpu_recorder_s']:.2f} s + child processes "
          f"{stats['cpu_ffmpeg_s']:.2f} s = {cpu:.2f} s")  # fmt: skip
    print(f"CPU seconds per track-second: {per_track_s:.4f} "
          f"(recorder {stats['cpu_recorder_s'] / track_s:.4f}, "
          f"children {stats['cpu_ffmpeg_s'] / track_s:.4f})")  # fmt: skip
    if video:
        print(f"cameras per CPU core: {per_core:.1f} (recorded at 640x360, 15 fps; no target)")
    else:
        print(f"tracks per CPU core: {per_core:.1f} (target {TARGET_TRACKS_PER_CORE}: "
              f"{'met' if per_core >= TARGET_TRACKS_PER_CORE else 'MISSED'})")  # fmt: skip
    print(f"vs LiveKit Egress track egress ({EGRESS_TRACKS_PER_CORE} per core): "
          f"{per_core / EGRESS_TRACKS_PER_CORE:.1f}x")  # fmt: skip
    busiest = sorted(stats["threads"].items(), key=lambda kv: -kv[1])[:6]
    print("recorder process CPU by thread, per track-second: " + ", ".join(
        f"{name} {cpu / track_s:.4f}" for name, cpu in busiest))  # fmt: skip
    print(f"memory per track: recorder process {rss_track:.1f} MiB RSS, child processes "
          f"{stats['ffmpeg_uss'] / tracks / mib:.1f} MiB USS "
          f"({stats['ffmpeg_rss'] / tracks / mib:.1f} MiB RSS with shared libraries)")  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        logging.basicConfig(level=logging.WARNING)
        asyncio.run(child(Path(sys.argv[3]), sys.argv[4:], sys.argv[2] == "video"))
    else:
        args = [a for a in sys.argv[1:] if a != "--video"]
        asyncio.run(
            main(
                int(args[0]) if args else 2,
                float(args[1]) if len(args) > 1 else 60.0,
                "--video" in sys.argv[1:],
            )
        )
