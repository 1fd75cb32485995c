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
import socket
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from config import Settings
from media.assignments import AGENT_HEADER, Assignment, BridgeAssignment
from media.bridge import BridgeRunner
from media.clock import SessionClock
from media.recorder import RoomRecorder
from storage.spool import SessionSpool

log = logging.getLogger(__name__)
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=10)
# Handing the leases back, the last step of a shutdown: short, the process is about to exit.
RELEASE_TIMEOUT = aiohttp.ClientTimeout(total=3)


class _RoomField(logging.Filter):
    """Gives every record a ``room`` (``-`` where none was passed in ``extra``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "room"):
            record.room = "-"
        return True


def configure_logging(level: int = logging.INFO) -> None:
    """Log lines that name their room: ``... [room] track added: ...``, so one room's story
    (recording started, each track added or lost, each gap) can be read with grep."""
    handler = logging.StreamHandler()
    handler.addFilter(_RoomField())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(room)s] %(message)s")
    )
    logging.basicConfig(level=level, handlers=[handler])


def default_agent_id(settings: Settings) -> str:
    """Stable across restarts of the same installation, so a restarted agent keeps its leases
    and is back in its rooms at once instead of waiting for them to expire."""
    return f"{socket.gethostname()}:{settings.paths.state_dir}"


@dataclass(eq=False)
class MediaAgent:
    """Runs recorders for the rooms this agent holds leases on.

    Attributes:
        settings: the entry point's settings.
        agent_id: the name its leases are held in (:func:`default_agent_id`).
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
        self._api = self.settings.web.public_url.rstrip("/") + "/api/v1/media"
        self._headers = {AGENT_HEADER: self.settings.security.media_agent_token}

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
        try:
            await asyncio.wait_for(closing, limit)
        except TimeoutError:
            log.error("agent %s: recorders not closed within %.0f s", self.agent_id, limit)
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
            if a.live and a.session_id not in self.recorders:
                await self._start(a)
            elif not a.live:
                await self._finish(http, a)
        await self.bridges.reconcile(self._bridge_assignments)

    async def _heartbeat(self, http: aiohttp.ClientSession) -> list[Assignment]:
        body = {
            "agent_id": self.agent_id,
            "capacity": self.capacity,
            "bridges_running": self.bridges.running,
        }
        async with http.post(f"{self._api}/heartbeat", json=body) as r:
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
        recorder = self.recorders.pop(a.session_id, None)
        if recorder is None:
            # Ended while no recorder of ours ran (e.g. we restarted after the end): finalize
            # what an earlier run left on disk.
            recorder = RoomRecorder(
                self.settings.livekit, a.room_name, self._out_dir(a.session_id),
                SessionClock(a.started_at),
            )  # fmt: skip
        await recorder.finalize()
        await recorder.aclose()
        manifest = SessionSpool(self._out_dir(a.session_id)).manifest
        body = {"agent_id": self.agent_id, "manifest_path": str(manifest)}
        async with http.post(f"{self._api}/recordings/{a.session_id}/complete", json=body) as r:
            r.raise_for_status()
            result = await r.json()
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
