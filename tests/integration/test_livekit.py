"""The real livekit-server of the local stack: rooms through the server API, media through rtc."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import numpy as np
import pytest
from livekit import api, rtc

from config import Settings
from media import mint_token
from media.room_join import join
from tests.audio import TONE_REL, dominant_frequency, sine

RATE = 48000
FRAME = RATE // 100  # 10 ms


def join_grants(room: str, *, can_publish: bool) -> api.VideoGrants:
    """Every right explicit: livekit-api's defaults would let anyone publish."""
    return api.VideoGrants(
        room_join=True,
        room=room,
        can_publish=can_publish,
        can_subscribe=True,
        can_publish_data=can_publish,
    )


def _lkapi(settings: Settings) -> api.LiveKitAPI:
    lk = settings.livekit
    return api.LiveKitAPI(lk.http_url, lk.api_key, lk.api_secret.get_secret_value())


async def test_room_create_list_delete(local_stack: Settings, unique_name: str) -> None:
    async with _lkapi(local_stack) as lkapi:
        room = await lkapi.room.create_room(api.CreateRoomRequest(name=unique_name))
        assert room.name == unique_name
        listed = await lkapi.room.list_rooms(api.ListRoomsRequest(names=[unique_name]))
        assert [r.name for r in listed.rooms] == [unique_name]
        await lkapi.room.delete_room(api.DeleteRoomRequest(room=unique_name))
        listed = await lkapi.room.list_rooms(api.ListRoomsRequest(names=[unique_name]))
        assert listed.rooms == []


async def test_room_is_not_created_by_joining(local_stack: Settings, unique_name: str) -> None:
    """Rooms exist only when created through the API (auto_create is off)."""
    token = mint_token(
        local_stack.livekit,
        identity="intruder",
        grants=join_grants(unique_name, can_publish=True),
        ttl=timedelta(minutes=5),
    )
    room = rtc.Room()
    with pytest.raises(rtc.ConnectError):
        await join(room, local_stack.livekit.url, token, rtc.RoomOptions(), timeout_s=20)


async def _publish_tone(room: rtc.Room, freq_hz: float, seconds: float) -> None:
    source = rtc.AudioSource(RATE, 1)
    track = rtc.LocalAudioTrack.create_audio_track("tone", source)
    await room.local_participant.publish_track(
        track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    )
    samples = sine(freq_hz, seconds, RATE)
    for start in range(0, len(samples) - FRAME + 1, FRAME):
        frame = rtc.AudioFrame.create(RATE, 1, FRAME)
        np.frombuffer(frame.data, dtype=np.int16)[:] = samples[start : start + FRAME]
        await source.capture_frame(frame)


async def _receive_audio(room: rtc.Room, seconds: float) -> np.ndarray:
    """Audio of the first remote audio track, from its first non-silent frame on."""
    subscribed: asyncio.Future[rtc.Track] = asyncio.get_running_loop().create_future()

    @room.on("track_subscribed")
    def _on_track(track: rtc.Track, *_: object) -> None:
        if track.kind == rtc.TrackKind.KIND_AUDIO and not subscribed.done():
            subscribed.set_result(track)

    stream = rtc.AudioStream(await subscribed, sample_rate=RATE, num_channels=1)
    chunks: list[np.ndarray] = []
    needed = int(seconds * RATE)
    try:
        async for event in stream:
            data = np.frombuffer(event.frame.data, dtype=np.int16).copy()
            if chunks or np.abs(data).max() > 1000:
                chunks.append(data)
            if sum(len(c) for c in chunks) >= needed:
                break
    finally:
        await stream.aclose()
    return np.concatenate(chunks)


async def test_participant_hears_a_440_hz_tone(local_stack: Settings, unique_name: str) -> None:
    lk = local_stack.livekit
    async with _lkapi(local_stack) as lkapi:
        await lkapi.room.create_room(api.CreateRoomRequest(name=unique_name))
        speaker, listener = rtc.Room(), rtc.Room()
        try:
            for room, identity, publish in (
                (listener, "listener", False),
                (speaker, "speaker", True),
            ):
                token = mint_token(
                    lk,
                    identity=identity,
                    grants=join_grants(unique_name, can_publish=publish),
                    ttl=timedelta(minutes=5),
                )
                await join(room, lk.url, token, rtc.RoomOptions(), timeout_s=20)
            receiving = asyncio.create_task(_receive_audio(listener, seconds=1.5))
            await _publish_tone(speaker, 440.0, seconds=4.0)
            received = await asyncio.wait_for(receiving, timeout=20)
        finally:
            await speaker.disconnect()
            await listener.disconnect()
            await lkapi.room.delete_room(api.DeleteRoomRequest(room=unique_name))
    assert len(received) >= RATE
    assert dominant_frequency(received, RATE) == pytest.approx(440, rel=TONE_REL)


async def test_listener_without_publish_grant_cannot_publish(
    local_stack: Settings, unique_name: str
) -> None:
    lk = local_stack.livekit
    async with _lkapi(local_stack) as lkapi:
        await lkapi.room.create_room(api.CreateRoomRequest(name=unique_name))
        room = rtc.Room()
        try:
            token = mint_token(
                lk,
                identity="observer",
                grants=join_grants(unique_name, can_publish=False),
                ttl=timedelta(minutes=5),
            )
            await join(room, lk.url, token, rtc.RoomOptions(), timeout_s=20)
            source = rtc.AudioSource(RATE, 1)
            track = rtc.LocalAudioTrack.create_audio_track("mic", source)
            # The server ignores the publish request; the SDK reports it as failed.
            with pytest.raises(Exception, match="(?i)publication"):
                await asyncio.wait_for(
                    room.local_participant.publish_track(track, rtc.TrackPublishOptions()),
                    timeout=30,
                )
            listed = await lkapi.room.list_participants(
                api.ListParticipantsRequest(room=unique_name)
            )
            assert [(p.identity, len(p.tracks)) for p in listed.participants] == [("observer", 0)]
        finally:
            await room.disconnect()
            await lkapi.room.delete_room(api.DeleteRoomRequest(room=unique_name))
