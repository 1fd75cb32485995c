"""The video side of a bridge: the active speaker's camera of one room, as one 1280×720 camera
track in another.

Only the camera being relayed is subscribed (and so decoded); when someone starts speaking, the
relay switches to their camera. Bridge participants are never chosen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import numpy as np
from livekit import rtc

from media.bridge_identity import TrackReaders, is_bridge
from media.video_segments import to_av_frame

logger = logging.getLogger(__name__)

CANVAS_WIDTH, CANVAS_HEIGHT = 1280, 720
# Black in the limited range that I420 cameras send: it converts to RGB (0, 0, 0).
BLACK_LUMA, BLACK_CHROMA = 16, 128
PUBLISH_TIMEOUT_S = 20.0


def speaker_order(speaking: list[str], before: set[str], showing: str | None) -> list[str]:
    """Whose camera to try, best first, when LiveKit's active speakers change (pure).

    LiveKit lists active speakers loudest first, and someone who has just stopped can stay in the
    list, still loud, for a while. So the newest speaker wins: those not speaking before come
    first; with no newcomer the one shown stays while still speaking; otherwise the loudest.

    Args:
        speaking: the active speakers now, loudest first.
        before: the active speakers of the previous change.
        showing: whose camera is relayed now.
    """
    newcomers = [identity for identity in speaking if identity not in before]
    if not newcomers and showing in speaking:
        return [showing]
    return newcomers + [identity for identity in speaking if identity not in newcomers]


def on_canvas(frame: rtc.VideoFrame) -> rtc.VideoFrame:
    """``frame`` as a 1280×720 I420 picture: scaled to fit, aspect kept, centred on black.

    The relayed track keeps one size whoever is shown. A simulcast track whose size changes
    changes its layers, and a viewer left on a layer that no longer existed saw the picture
    freeze when the speaker changed: for the whole 20 s of a test, in 2 runs of 4 on a loaded
    machine, when a 1280×720 layer gave way to a 320×180 camera.
    """
    frame = frame.convert(rtc.VideoBufferType.I420)
    if (frame.width, frame.height) == (CANVAS_WIDTH, CANVAS_HEIGHT):
        return frame
    picture = to_av_frame(frame)
    scale = min(CANVAS_WIDTH / picture.width, CANVAS_HEIGHT / picture.height)
    width = max(2, round(picture.width * scale) // 2 * 2)
    height = max(2, round(picture.height * scale) // 2 * 2)
    scaled = picture.reformat(width=width, height=height, format="yuv420p").to_ndarray()
    canvas = np.empty(CANVAS_WIDTH * CANVAS_HEIGHT * 3 // 2, dtype=np.uint8)
    luma = CANVAS_WIDTH * CANVAS_HEIGHT
    canvas[:luma], canvas[luma:] = BLACK_LUMA, BLACK_CHROMA
    x, y = (CANVAS_WIDTH - width) // 4 * 2, (CANVAS_HEIGHT - height) // 4 * 2
    for into, part, step in zip(
        _planes(canvas, CANVAS_WIDTH, CANVAS_HEIGHT),
        _planes(scaled, width, height),
        (1, 2, 2),
        strict=True,
    ):
        into[y // step : (y + height) // step, x // step : (x + width) // step] = part
    return rtc.VideoFrame(CANVAS_WIDTH, CANVAS_HEIGHT, rtc.VideoBufferType.I420, canvas.tobytes())


def _planes(packed: np.ndarray, width: int, height: int) -> list[np.ndarray]:
    """The Y, U and V planes of a packed I420 picture of even sides, as views."""
    flat = packed.reshape(-1)
    luma, chroma = width * height, width * height // 4
    return [
        flat[:luma].reshape(height, width),
        flat[luma : luma + chroma].reshape(height // 2, width // 2),
        flat[luma + chroma : luma + 2 * chroma].reshape(height // 2, width // 2),
    ]


class VideoRelay:
    """Relays the active speaker's camera of ``source`` into a camera track of ``target``.

    Args:
        source: the room whose speakers are shown (joined, not auto-subscribing).
        target: the local participant that shows them in the other room.
    """

    def __init__(self, source: rtc.Room, target: rtc.LocalParticipant) -> None:
        self._source = source
        self._target = target
        self._video = rtc.VideoSource(CANVAS_WIDTH, CANVAS_HEIGHT)
        self._publication: rtc.LocalTrackPublication | None = None
        self.showing: str | None = None
        self._speaking: set[str] = set()
        self._readers = TrackReaders(source, self._wanted, self._relay)

    async def start(self) -> None:
        """Publish the camera track and show the first participant with a camera."""
        track = rtc.LocalVideoTrack.create_video_track("bridge-camera", self._video)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA)
        self._publication = await asyncio.wait_for(
            self._target.publish_track(track, options), PUBLISH_TIMEOUT_S
        )
        room = self._source
        room.on("active_speakers_changed", self._on_speakers)
        room.on("track_published", lambda *_: self._fallback())
        room.on("track_unpublished", lambda _pub, p: self._lost(p.identity))
        room.on("participant_disconnected", lambda p: self._lost(p.identity))
        self._fallback()

    async def aclose(self) -> None:
        """Stop relaying and unpublish the camera track."""
        await self._readers.aclose()
        if self._publication is not None:
            with contextlib.suppress(Exception):
                await self._target.unpublish_track(self._publication.sid)
        await self._video.aclose()

    def _camera(self, participant: rtc.RemoteParticipant) -> rtc.RemoteTrackPublication | None:
        if is_bridge(participant):
            return None
        for publication in participant.track_publications.values():
            if publication.source == rtc.TrackSource.SOURCE_CAMERA:
                return publication
        return None

    def _show(self, participant: rtc.RemoteParticipant) -> None:
        camera = self._camera(participant)
        if camera is None or participant.identity == self.showing:
            return
        previous = self._source.remote_participants.get(self.showing or "")
        old = self._camera(previous) if previous else None
        if old is not None:
            old.set_subscribed(False)
        self.showing = participant.identity
        camera.set_subscribed(True)
        logger.info("bridge video now shows %s", participant.identity)

    def _on_speakers(self, speakers: list[rtc.Participant]) -> None:
        speaking = [speaker.identity for speaker in speakers]
        order = speaker_order(speaking, self._speaking, self.showing)
        self._speaking = set(speaking)
        for identity in order:
            remote = self._source.remote_participants.get(identity)
            if remote is not None and self._camera(remote) is not None:
                self._show(remote)
                return

    def _fallback(self) -> None:
        if self.showing in self._source.remote_participants:
            return
        for participant in self._source.remote_participants.values():
            if self._camera(participant) is not None:
                self._show(participant)
                return

    def _lost(self, identity: str) -> None:
        if identity == self.showing:
            self.showing = None
            self._fallback()

    def _wanted(
        self, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> bool:
        # A camera shown a moment ago may still arrive: _show has unsubscribed it already.
        source = publication.source
        return source == rtc.TrackSource.SOURCE_CAMERA and participant.identity == self.showing

    async def _relay(self, track: rtc.Track) -> None:
        # One camera at a time: the one shown before stops as this one starts.
        self._readers.keep_only(track.sid)
        stream = rtc.VideoStream.from_track(track=track, format=rtc.VideoBufferType.I420)
        try:
            async for event in stream:
                self._video.capture_frame(on_canvas(event.frame))
        finally:
            await stream.aclose()
