"""Pure logic of bridges and the dashboard: the jitter mixer, bridge state, merged metadata."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from livekit import rtc

from media.audio_mix import FRAME_SAMPLES, RATE, JitterMixer
from media.bridge_video import on_canvas, speaker_order
from orchestrator.db.models import Bridge
from orchestrator.live.board import merged_metadata
from orchestrator.live.bridges import RUNNING_FRESH, to_out
from orchestrator.live.schemas import BridgeState

MS = RATE // 1000


def ramp(n: int, start: int = 1) -> np.ndarray:
    return np.arange(start, start + n, dtype=np.int16)


def test_nothing_is_heard_until_a_speaker_is_primed() -> None:
    mixer = JitterMixer(prime_ms=20, max_ms=100)
    mixer.push("a", np.full(10 * MS, 100, dtype=np.int16))
    assert not mixer.pull().any()  # 10 ms queued, 20 needed
    mixer.push("a", np.full(10 * MS, 100, dtype=np.int16))
    assert (mixer.pull() == 100).all()
    assert mixer.queued("a") == 10 * MS


def test_samples_come_out_in_order_across_chunk_boundaries() -> None:
    mixer = JitterMixer(prime_ms=0, max_ms=100)
    mixer.push("a", ramp(300))
    mixer.push("a", ramp(500, start=301))
    out = np.concatenate([mixer.pull(FRAME_SAMPLES), mixer.pull(320)])
    assert (out == np.arange(1, 801)).all()


def test_speakers_are_summed_and_clipped() -> None:
    mixer = JitterMixer(prime_ms=0, max_ms=100)
    mixer.push("a", np.full(FRAME_SAMPLES, 30000, dtype=np.int16))
    mixer.push("b", np.full(FRAME_SAMPLES, 30000, dtype=np.int16))
    mixer.push("c", np.full(FRAME_SAMPLES, -5, dtype=np.int16))
    assert (mixer.pull() == 32767).all()
    mixer.push("a", np.full(FRAME_SAMPLES, 7, dtype=np.int16))
    mixer.push("c", np.full(FRAME_SAMPLES, -5, dtype=np.int16))
    assert (mixer.pull() == 2).all()


def test_a_speaker_that_runs_dry_is_padded_then_primed_again() -> None:
    mixer = JitterMixer(prime_ms=20, max_ms=100)
    mixer.push("a", np.full(25 * MS, 9, dtype=np.int16))
    assert (mixer.pull() == 9).all()
    assert (mixer.pull() == 9).all()
    last = mixer.pull()  # 5 ms left: played, then silence, and it must refill
    assert (last[: 5 * MS] == 9).all() and not last[5 * MS :].any()
    mixer.push("a", np.full(10 * MS, 9, dtype=np.int16))
    assert not mixer.pull().any()


def test_delay_stays_bounded_the_oldest_audio_is_dropped() -> None:
    mixer = JitterMixer(prime_ms=20, max_ms=60)
    mixer.push("a", ramp(100 * MS))
    assert mixer.queued("a") == 60 * MS
    first = mixer.pull()
    assert first[0] == 40 * MS + 1  # the newest 60 ms were kept


def test_removed_speakers_are_not_heard() -> None:
    mixer = JitterMixer(prime_ms=0, max_ms=100)
    mixer.push("a", np.full(FRAME_SAMPLES, 5, dtype=np.int16))
    mixer.remove("a")
    assert mixer.speakers == frozenset() and not mixer.pull().any()


@pytest.mark.parametrize("prime_ms,max_ms", [(-1, 10), (10, 10), (50, 20)])
def test_bad_buffer_sizes_are_refused(prime_ms: int, max_ms: int) -> None:
    with pytest.raises(ValueError):
        JitterMixer(prime_ms=prime_ms, max_ms=max_ms)


NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "running_at,ended_at,state",
    [
        (None, None, BridgeState.WAITING),
        (NOW - timedelta(seconds=1), None, BridgeState.RUNNING),
        (NOW - RUNNING_FRESH - timedelta(seconds=1), None, BridgeState.WAITING),
        (NOW - timedelta(seconds=1), NOW, BridgeState.ENDED),
    ],
)
def test_bridge_state(
    running_at: datetime | None, ended_at: datetime | None, state: BridgeState
) -> None:
    bridge = Bridge(
        id=1, session_id=2, hub_room="tw-1", hub_name="Ban", session_name="Ninh Bình",
        video=False, talk_back=False, created_at=NOW, running_at=running_at, ended_at=ended_at,
    )  # fmt: skip
    out = to_out(bridge, "ninh-binh-2", NOW)
    assert out.state is state and out.session_room == "ninh-binh-2"


@pytest.mark.parametrize(
    "metadata,expected",
    [
        ("", {"central_observers": 2}),
        ('{"recording": true, "title": "Tiếp dân"}',
         {"recording": True, "title": "Tiếp dân", "central_observers": 2}),
        ('{"central_observers": 5}', {"central_observers": 2}),
        ("not json", {"central_observers": 2}),
        ("[1, 2]", {"central_observers": 2}),
    ],
)  # fmt: skip
def test_merged_metadata_keeps_every_other_key(metadata: str, expected: dict[str, object]) -> None:
    assert json.loads(merged_metadata(metadata, "central_observers", 2)) == expected


def _rgb(frame: rtc.VideoFrame) -> np.ndarray:
    rgba = np.frombuffer(frame.convert(rtc.VideoBufferType.RGBA).data, dtype=np.uint8)
    return rgba.reshape(frame.height, frame.width, 4)[:, :, :3].astype(np.int16)


@pytest.mark.parametrize(
    "size,shown",
    [
        ((1920, 1080), (1280, 720)),
        ((1280, 720), (1280, 720)),
        ((320, 180), (1280, 720)),
        ((720, 1280), (404, 720)),  # a phone held upright: black on either side
        ((641, 479), (964, 720)),  # odd sides: the odd row and column are cut
    ],
)
def test_every_camera_is_relayed_on_one_1280_by_720_picture_in_its_colour(
    size: tuple[int, int], shown: tuple[int, int]
) -> None:
    width, height = size
    rgba = np.tile(np.array([200, 40, 40, 255], dtype=np.uint8), width * height).tobytes()
    out = on_canvas(rtc.VideoFrame(width, height, rtc.VideoBufferType.RGBA, rgba))
    assert (out.width, out.height, out.type) == (1280, 720, rtc.VideoBufferType.I420)
    picture = _rgb(out)
    left, top = (1280 - shown[0]) // 2, (720 - shown[1]) // 2
    inside = picture[top + 2 : top + shown[1] - 2, left + 2 : left + shown[0] - 2]
    assert np.abs(inside - [200, 40, 40]).max() < 12
    black = np.ones(picture.shape[:2], dtype=bool)
    black[top : top + shown[1], left : left + shown[0]] = False
    assert np.abs(picture[black]).max(initial=0) < 3


@pytest.mark.parametrize(
    ("speaking", "before", "showing", "expected"),
    [
        # Someone starts while the one who stopped is still listed, louder: the newcomer wins.
        (["red", "blue"], {"red"}, "red", ["blue", "red"]),
        # Nobody new: the one shown stays while still speaking, even if no longer the loudest.
        (["blue", "red"], {"red", "blue"}, "red", ["red"]),
        # The one shown has stopped and nobody is new: the loudest remaining.
        (["blue", "green"], {"red", "blue", "green"}, "red", ["blue", "green"]),
        # The first speaker of all.
        (["red"], set(), None, ["red"]),
        # Several newcomers at once: loudest first.
        (["green", "red", "blue"], {"red"}, "red", ["green", "blue", "red"]),
        # Silence: nobody to show (the relay keeps what it shows).
        ([], {"red"}, "red", []),
    ],
)
def test_the_newest_speaker_is_shown(
    speaking: list[str], before: set[str], showing: str | None, expected: list[str]
) -> None:
    assert speaker_order(speaking, before, showing) == expected
