"""What media agents call: the heartbeat that renews leases and hands out rooms and bridges, the
report that a recording is finalized (which starts the pipeline once), and the release of an
agent's leases when it shuts down (so another agent takes its rooms at once).

Only a caller holding the shared agent token (``X-Tiepdan-Agent``) gets in: the routes' access
is ``media_agent``, which the router checks."""

from __future__ import annotations

from aiohttp import web

from orchestrator.db.audit import audit
from orchestrator.live import bridges, recordings
from orchestrator.live.schemas import (
    AgentHeartbeat,
    AgentRelease,
    AssignmentOut,
    HeartbeatOut,
    RecordingComplete,
    RecordingCompleteOut,
    ReleaseOut,
)
from orchestrator.live.session_end import send_started, start_pipeline
from orchestrator.web.access import Access
from orchestrator.web.api import Route, parse, path_int, reply
from orchestrator.web.app_keys import DB
from orchestrator.web.auth import now_utc


async def agent_heartbeat(request: web.Request) -> web.Response:
    body = await parse(request, AgentHeartbeat)
    async with request.app[DB]() as db:
        assignments = await recordings.heartbeat(db, body.agent_id, body.capacity, now_utc())
        bridged = await bridges.heartbeat(
            db, body.agent_id, body.capacity, body.bridges_running, now_utc()
        )
        await db.commit()
    return reply(
        HeartbeatOut(
            assignments=[
                AssignmentOut.model_validate(a, from_attributes=True) for a in assignments
            ],
            lease_seconds=recordings.LEASE_TTL.total_seconds(),
            bridges=bridged,
        )  # fmt: skip
    )


async def agent_release(request: web.Request) -> web.Response:
    body = await parse(request, AgentRelease)
    async with request.app[DB]() as db:
        released = ReleaseOut(
            recordings=await recordings.release(db, body.agent_id),
            bridges=await bridges.release(db, body.agent_id),
        )
        audit(db, action="media.release", target=f"agent:{body.agent_id}", outcome="allowed",
              recordings=released.recordings, bridges=released.bridges)  # fmt: skip
        await db.commit()
    return reply(released)


async def recording_complete(request: web.Request) -> web.Response:
    body = await parse(request, RecordingComplete)
    session_id = path_int(request, "id")
    async with request.app[DB]() as db:
        completed = await recordings.complete_recording(
            db, body.agent_id, session_id, body.manifest_path, now_utc()
        )
        started = completed and await start_pipeline(db, session_id)
        audit(db, action="recording.complete", target=f"session:{session_id}",
              outcome="allowed" if completed else "failed", agent=body.agent_id)  # fmt: skip
        await db.commit()
    if started:
        await send_started(request.app, session_id)
    return reply(RecordingCompleteOut(completed=completed, pipeline_started=started))


ROUTES = [
    Route("POST", "/media/heartbeat", agent_heartbeat,
          "Media agent: renew leases, take free rooms, list assignments", body=AgentHeartbeat,
          response=HeartbeatOut, access=Access.MEDIA_AGENT),
    Route("POST", "/media/release", agent_release,
          "Media agent: shutting down, hand back every lease (another agent takes over at once)",
          body=AgentRelease, response=ReleaseOut, access=Access.MEDIA_AGENT),
    Route("POST", "/media/recordings/{id}/complete", recording_complete,
          "Media agent: a recording is finalized (starts the pipeline once)",
          body=RecordingComplete, response=RecordingCompleteOut, access=Access.MEDIA_AGENT),
]  # fmt: skip
