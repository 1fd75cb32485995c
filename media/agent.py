"""The media agent: keeps exactly one hidden recorder in every room it holds a lease on.

Desired state comes from the orchestrator's API (the layers keep media away from its database):
every few seconds the agent reports in, renewing its leases and receiving its assignments.
A live assignment gets a :class:`RoomRecorder`; one that is no longer live is finalized and
reported complete (which starts the post-session pipeline, once); one that is gone from the
list (lease lost to another agent) is dropped without finalizing, the other agent goes on.

On SIGTERM (``docker stop``) or SIGINT the agent shuts down in steps, within
``media.shutdown_timeout_s``: every recorder closes (the segment in flight finished and listed in
``recording.partial.json``), the bridges leave their rooms, and then every lease is handed back
(``POST /media/release``) so that another agent's next heartbeat takes the rooms over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from config import Settings
from config.logs import REQUEST_ID_HEADER, log_context, new_request_id
from media import room_join
from media.assignments import AGENT_HEADER, Assignment, BridgeAssignment
from media.bridge import BridgeRunner
from media.clock import SessionClock
from media.liveness import beat_file, touch_beat
from media.recorder import RoomRecorder
from storage.spool import SessionSpool

log = logging.getLogger(__name__)
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=10)
# Handing the leases back, the last step of a shutdown: short, the process is about to exit.
RELEASE_TIMEOUT = aiohttp.ClientTimeout(total=3)
# Joins cut short by a shutdown get this long to leave their rooms even when closing the
# recorders took the whole limit: the SDK would hold the exit ~11 s for one left joining.
SETTLE_AT_LEAST_S = 3.0


@dataclass(eq=False)
class MediaAgent:
    """Runs recorders for the rooms this agent holds leases on.

    Attributes:
        settings: the entry point's settings.
        agent_id: the name its leases are held in (:func:`media.liveness.default_agent_id`).
        spool_dir: where recordings are written, a directory per session.
        capacity: rooms at most.
        heartbeat_s: seconds between two reports to the orchestrator.
    """

    settings: Settings
    _: KW_ONLY
    agent_id: str
    spool_dir: Path
    capacity: int = 50
    heartbeat_s: float = 2.0
    recorders: dict[int, RoomRecorder] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        # Bridges are leased from the same heartbeat (media.bridge).
        self.bridges = BridgeRunner(self.settings.livekit)
        self._bridge_assignments: list[BridgeAssignment] = []
        self._api = self.settings.web.server_url + "/api/v1/media"
        self._headers = {AGENT_HEADER: self.settings.security.media_agent_token}
        self._beat = beat_file(self.settings, self.agent_id)

    async def run(self) -> None:
        """Report in and reconcile recorders until cancelled; then :meth:`shut_down`."""
        async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT, headers=self._headers) as http:
            log.info("agent %s: reporting to %s", self.agent_id, self._api)
            try:
                while True:
                    try:
                        await self.step(http)
                    except (aiohttp.ClientError, TimeoutError) as e:
                        # The orchestrator is away: keep recording, try again next beat.
                        log.warning("agent %s: orchestrator unreachable (%s)", self.agent_id, e)
                    else:
                        await asyncio.to_thread(touch_beat, self._beat)
                    await asyncio.sleep(self.heartbeat_s)
            finally:
                await self.shut_down(http)

    async def shut_down(self, http: aiohttp.ClientSession) -> None:
        """Close every recorder and bridge within ``media.shutdown_timeout_s``, then hand every
        lease back, so that another agent takes the rooms over at its next heartbeat.

        The recorders close first: the one taking over resumes from the partial manifest they
        leave, which must already list the segment that was in flight.
        """
        limit = self.settings.media.shutdown_timeout_s
        closing = asyncio.gather(
            *(self._drop(s) for s in list(self.recorders)), self.bridges.aclose()
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        try:
            await asyncio.wait_for(closing, limit)
        except TimeoutError:
            log.error("agent %s: recorders not closed within %.0f s", self.agent_id, limit)
        # A join cut short by the signal leaves its room once in, before the loop ends.
        await room_join.settle(max(deadline - loop.time(), SETTLE_AT_LEAST_S))
        body = {"agent_id": self.agent_id}
        try:
            async with http.post(f"{self._api}/release", json=body, timeout=RELEASE_TIMEOUT) as r:
                r.raise_for_status()
                log.info("agent %s: leases handed back (%s)", self.agent_id, await r.json())
        except (aiohttp.ClientError, TimeoutError) as e:
            log.warning("agent %s: leases not handed back, they expire (%r)", self.agent_id, e)

    async def step(self, http: aiohttp.ClientSession) -> None:
        """One beat: renew leases, start, finalize or drop recorders to match."""
        assignments = await self._heartbeat(http)
        held = {a.session_id for a in assignments}
        for session_id in [s for s in self.recorders if s not in held]:
            log.warning("session %s: lease lost, recorder stopped", session_id)
            await self._drop(session_id)
        for a in assignments:
            # The recorder's tasks, started in here, keep the session's ids on their lines.
            with log_context(session_id=a.session_id, room=a.room_name):
                try:
                    if a.live and a.session_id not in self.recorders:
                        await self._start(a)
                    elif not a.live:
                        await self._finish(http, a)
                except (aiohttp.ClientError, TimeoutError) as e:
                    log.warning(
                        "session %s: orchestrator unreachable (%s); next beat", a.session_id, e
                    )
                except Exception:
                    # One room's failure (a full disk at finalize) is that room's: the others go
                    # on recording, and the room's step is tried again next beat.
                    log.exception("session %s: failed; trying again next beat", a.session_id)
        await self.bridges.reconcile(self._bridge_assignments)

    async def _heartbeat(self, http: aiohttp.ClientSession) -> list[Assignment]:
        body = {
            "agent_id": self.agent_id,
            "capacity": self.capacity,
            "bridges_running": self.bridges.running,
        }
        headers = {REQUEST_ID_HEADER: new_request_id()}
        async with http.post(f"{self._api}/heartbeat", json=body, headers=headers) as r:
            r.raise_for_status()
            data: dict[str, Any] = await r.json()
        self._bridge_assignments = [BridgeAssignment(**b) for b in data.get("bridges", [])]
        return [
            Assignment(
                session_id=a["session_id"],
                room_name=a["room_name"],
                started_at=datetime.fromisoformat(a["started_at"]),
                live=a["live"],
            )
            for a in data["assignments"]
        ]

    def _out_dir(self, session_id: int) -> Path:
        return self.spool_dir / str(session_id)

    async def _start(self, a: Assignment) -> None:
        recorder = RoomRecorder(
            self.settings.livekit,
            a.room_name,
            self._out_dir(a.session_id),
            SessionClock(a.started_at),
            video=self.settings.media.video,
        )
        try:
            await recorder.start()
        except Exception:
            log.exception("session %s: recorder failed to start; retrying", a.session_id)
            with contextlib.suppress(Exception):
                await recorder.aclose()
            return
        self.recorders[a.session_id] = recorder
        log.info("session %s: recording room %s", a.session_id, a.room_name)

    async def _finish(self, http: aiohttp.ClientSession, a: Assignment) -> None:
        """Finalize and report the recording; kept until reported, so that a step that failed
        (the disk, the orchestrator) is tried again next beat with the same recorder."""
        recorder = self.recorders.get(a.session_id)
        if recorder is None:
            # Ended while no recorder of ours ran (e.g. we restarted after the end): finalize
            # what an earlier run left on disk.
            recorder = self.recorders[a.session_id] = RoomRecorder(
                self.settings.livekit, a.room_name, self._out_dir(a.session_id),
                SessionClock(a.started_at),
            )  # fmt: skip
        await recorder.finalize()
        await recorder.aclose()
        manifest = SessionSpool(self._out_dir(a.session_id)).manifest
        body = {"agent_id": self.agent_id, "manifest_path": str(manifest)}
        # The same id on the orchestrator's lines and the worker's jobs this call enqueues.
        request_id = new_request_id()
        url = f"{self._api}/recordings/{a.session_id}/complete"
        with log_context(request_id=request_id):
            async with http.post(url, json=body, headers={REQUEST_ID_HEADER: request_id}) as r:
                r.raise_for_status()
                result = await r.json()
            self.recorders.pop(a.session_id, None)
            log.info("session %s: recording complete (%s)", a.session_id, result)

    async def _drop(self, session_id: int) -> None:
        recorder = self.recorders.pop(session_id)
        with contextlib.suppress(Exception):
            await recorder.aclose()


async def run_until_stopped(agent: MediaAgent) -> None:
    """Run ``agent`` until SIGTERM or SIGINT, then let it shut down (:meth:`MediaAgent.shut_down`).

    A second signal during the shutdown cuts it short.
    """
    running = asyncio.create_task(agent.run(), name=f"media-agent:{agent.agent_id}")
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, running.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await running
