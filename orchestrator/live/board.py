"""The central observers' live dashboard ``/central``: every live session in the country.

A :class:`LiveBoard` refreshes once a second (and at once when someone starts or stops speaking)
from the database and LiveKit's server API, and pushes each change to the open dashboards as
server-sent events. While it is at it, it writes the number of central observers present into
each room's metadata, where the provincial officers' join page shows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from livekit import api
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from media import room_join
from media.grants import ParticipantKind
from media.speaker_watch import LEAVE_TIMEOUT_S, SpeakerWatch
from orchestrator.core.permissions import SessionScope
from orchestrator.core.timezone import format_local
from orchestrator.core.vocabulary import RecorderState, SessionStatus
from orchestrator.db.models import ReceptionSession, RecordingRequest
from orchestrator.live import bridges
from orchestrator.live.recordings import recorder_state
from orchestrator.scheduling import service as svc
from orchestrator.web.app_keys import DB, LIVEKIT, SETTINGS
from orchestrator.web.auth import now_utc

log = logging.getLogger(__name__)

REFRESH_S = 1.0
KEEPALIVE_S = 15.0
OBSERVERS_KEY = "central_observers"


@dataclass(frozen=True)
class LiveRow:
    """One live session on the board, and whom it may be shown to."""

    scope: SessionScope
    province_code: str
    view: dict[str, Any]


def merged_metadata(metadata: str, key: str, value: Any) -> str:
    """Room metadata with ``key`` set and every other key kept."""
    try:
        data = json.loads(metadata) if metadata else {}
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    data[key] = value
    return json.dumps(data, ensure_ascii=False)


def _metadata_value(metadata: str, key: str, default: Any) -> Any:
    try:
        return json.loads(metadata).get(key, default)
    except (ValueError, AttributeError):
        return default


class LiveBoard:
    """The live sessions as the dashboard shows them; ``version`` grows with every change."""

    def __init__(
        self,
        settings: Settings,
        db: async_sessionmaker[AsyncSession],
        lkapi: api.LiveKitAPI,
    ) -> None:
        self._settings = settings
        self._db = db
        self._lkapi = lkapi
        self.rows: list[LiveRow] = []
        self.version = 0
        self._changed = asyncio.Condition()
        self._wake = asyncio.Event()
        self._watches: dict[str, SpeakerWatch] = {}
        self._starting: dict[str, asyncio.Task[None]] = {}
        self._leaving: set[asyncio.Task[None]] = set()
        self.closing = False
        # Open dashboards: speakers are followed only while someone looks.
        self.viewers = 0

    async def run(self) -> None:
        """Refresh until cancelled."""
        while True:
            try:
                await self.refresh()
            except Exception:
                log.exception("central board refresh failed; next in %ss", REFRESH_S)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), REFRESH_S)

    def wake(self) -> None:
        """Refresh now rather than at the next tick."""
        self._wake.set()

    async def wait_newer(self, version: int, timeout: float) -> int:
        """Wait until the board is newer than ``version`` (or ``timeout``); the version now."""
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self.version != version or self.closing),
                    timeout,
                )
            return self.version

    async def close(self) -> None:
        """Let every open dashboard stream end, and leave the rooms watched."""
        self.closing = True
        async with self._changed:
            self._changed.notify_all()
        # A watch still joining gives up (its room is left once in: media.room_join); the
        # lists are copied, for the tasks awaited here change them.
        starting = list(self._starting.values())
        for task in starting:
            task.cancel()
        await asyncio.gather(*starting, return_exceptions=True)
        watches = list(self._watches.values())
        self._watches.clear()
        await asyncio.gather(*(watch.aclose() for watch in watches), *self._leaving)

    async def refresh(self) -> None:
        """Rebuild the board; notify the dashboards if anything shown has changed."""
        now = now_utc()
        async with self._db() as db:
            await bridges.end_bridges_of_finished_sessions(db, now)
            await db.commit()
            live = list(
                await db.scalars(
                    select(ReceptionSession)
                    .where(
                        ReceptionSession.status == SessionStatus.LIVE,
                        ReceptionSession.room_name.is_not(None),
                    )
                    .order_by(ReceptionSession.id)
                )
            )
            ids = [s.id for s in live]
            launched = {
                r.session_id: r
                for r in await db.scalars(
                    select(RecordingRequest).where(RecordingRequest.session_id.in_(ids))
                )
            }
            bridged: dict[int, list[dict[str, Any]]] = {}
            for bridge, bridge_room in await bridges.active_bridges(db):
                out = bridges.to_out(bridge, bridge_room, now)
                bridged.setdefault(bridge.session_id, []).append(
                    {
                        "id": out.id,
                        "hub_name": out.hub_name,
                        "central_room": out.central_room,
                        "talk_back": out.talk_back,
                        "video": out.video,
                        "state": out.state.value,
                    }  # fmt: skip
                )
        names = [s.room_name for s in live if s.room_name]
        rooms = {}
        if names:
            listed = await self._lkapi.room.list_rooms(api.ListRoomsRequest(names=names))
            rooms = {r.name: r for r in listed.rooms}
        self._follow_speakers(set(rooms) if self.viewers else set())
        rows = []
        for session in live:
            assert session.room_name is not None
            room = rooms.get(session.room_name)
            people: list[api.ParticipantInfo] = []
            if room is not None:
                people = list(
                    (
                        await self._lkapi.room.list_participants(
                            api.ListParticipantsRequest(room=room.name)
                        )
                    ).participants
                )
                await self._show_observers(room, people)
            recording = launched.get(session.id)
            recorder = recorder_state(recording, now)
            rows.append(
                self._row(session, room, people, recording, recorder, bridged.get(session.id, []))
            )
        if [r.view for r in rows] != [r.view for r in self.rows]:
            self.rows = rows
            async with self._changed:
                self.version += 1
                self._changed.notify_all()

    def _row(
        self,
        session: ReceptionSession,
        room: api.Room | None,
        people: list[api.ParticipantInfo],
        recording: RecordingRequest | None,
        recorder: RecorderState,
        bridged: list[dict[str, Any]],
    ) -> LiveRow:
        points = Counter(
            p.attributes.get("connection_point") or p.name
            for p in people
            if not p.permission.hidden
        )
        started = recording.requested_at if recording else session.starts_at
        watch = self._watches.get(session.room_name or "")
        view = {
            "id": session.id,
            "title": session.title,
            "province_code": session.agency.province_code,
            "province": session.agency.province.name,
            "agency": session.agency.name,
            "chair": session.chair.display_name if session.chair else "",
            "started_at": started.isoformat(),
            "started_local": format_local(started),
            "recording": _metadata_value(room.metadata if room else "", "recording", False) is True,
            # no_recorder: no media agent holds it (every one is full, or none runs).
            "recorder": recorder.value,
            "points": [{"name": n, "count": c} for n, c in sorted(points.items())],
            "observers": _observers(people),
            "speaking": list(watch.speaking) if watch else [],
            "bridges": bridged,
        }
        return LiveRow(svc.scope_of(session), session.agency.province_code, view)

    async def _show_observers(self, room: api.Room, people: list[api.ParticipantInfo]) -> None:
        if not self._settings.web.show_central_observers:
            return
        count = _observers(people)
        if _metadata_value(room.metadata, OBSERVERS_KEY, 0) == count:
            return
        # Read again just before writing: the recorder merges its own key into the same JSON.
        listed = await self._lkapi.room.list_rooms(api.ListRoomsRequest(names=[room.name]))
        if listed.rooms:
            metadata = merged_metadata(listed.rooms[0].metadata, OBSERVERS_KEY, count)
            await self._lkapi.room.update_room_metadata(
                api.UpdateRoomMetadataRequest(room=room.name, metadata=metadata)
            )

    def _follow_speakers(self, rooms: set[str]) -> None:
        if self.closing:  # closed (a shutdown): no room is joined any more
            return
        for name in [n for n in self._watches if n not in rooms]:
            leaving = asyncio.create_task(self._watches.pop(name).aclose())
            self._leaving.add(leaving)
            leaving.add_done_callback(self._leaving.discard)
        for name in rooms:
            if name not in self._watches and name not in self._starting:
                self._starting[name] = asyncio.create_task(self._watch(name))

    async def _watch(self, name: str) -> None:
        watch = SpeakerWatch(self._settings.livekit, name, self.wake)
        try:
            await watch.start()
            self._watches[name] = watch
        except Exception as e:
            log.warning("cannot follow the speakers of %s: %r", name, e)
            await watch.aclose()
        finally:
            self._starting.pop(name, None)


def _observers(people: list[api.ParticipantInfo]) -> int:
    return sum(p.attributes.get("kind") == ParticipantKind.CENTRAL_OBSERVER for p in people)


BOARD: web.AppKey[LiveBoard] = web.AppKey("central_board", LiveBoard)


async def board_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the board while the app runs (after the database and LiveKit clients are up)."""
    board = app[BOARD] = LiveBoard(app[SETTINGS], app[DB], app[LIVEKIT])
    task = asyncio.create_task(board.run(), name="central board")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LEAVE_TIMEOUT_S
    await board.close()
    await room_join.settle(deadline - loop.time())


async def stop_streams(app: web.Application) -> None:
    """On shutdown: end every open event stream, so that the server need not wait for them."""
    if BOARD in app:
        await app[BOARD].close()
