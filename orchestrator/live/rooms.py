"""LiveKit rooms of sessions: created idempotently at launch, followed by webhooks."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Final

import aiohttp
from livekit import api

from config import Settings
from media import mint_token
from media.grants import ParticipantKind, video_grants
from orchestrator.db.models import ReceptionSession

# A launched room with nobody in it closes after this long (then the session ends).
EMPTY_TIMEOUT_S = 10 * 60
# Participants may rejoin after a drop without the room closing under them.
DEPARTURE_TIMEOUT_S = 120
MAX_PARTICIPANTS = 100
# A participant's token stays valid at most this long after the scheduled end.
TOKEN_GRACE = timedelta(hours=1)
# How long a call to LiveKit's API may take before LiveKit counts as unreachable.
LIVEKIT_TIMEOUT_S: Final = 10
# What a call to LiveKit's API raises when LiveKit is down, unreachable, too slow or failing.
LIVEKIT_UNREACHABLE: Final = (aiohttp.ClientError, TimeoutError, api.TwirpError)


def room_name(session: ReceptionSession) -> str:
    """``{province-code}-{session id}``: unique, and says where the session is held."""
    return f"{session.agency.province_code}-{session.id}"


def room_metadata(session: ReceptionSession) -> str:
    """The session facts every client of the room can read (no personal data)."""
    return json.dumps(
        {
            "session_id": session.id,
            "title": session.title,
            "province_code": session.agency.province_code,
            "agency": session.agency.name,
            "starts_at": session.starts_at.isoformat(),
            "ends_at": session.ends_at.isoformat(),
            "restricted": session.restricted,
            "recording": False,
        },
        ensure_ascii=False,
    )


async def ensure_room(lkapi: api.LiveKitAPI, session: ReceptionSession) -> str:
    """Create the session's room if it does not exist (CreateRoom is idempotent by name): at
    launch, and again when LiveKit lost it (the reconciler)."""
    name = session.room_name or room_name(session)
    request = api.CreateRoomRequest(
        name=name,
        empty_timeout=EMPTY_TIMEOUT_S,
        departure_timeout=DEPARTURE_TIMEOUT_S,
        max_participants=MAX_PARTICIPANTS,
        metadata=room_metadata(session),
    )
    await asyncio.wait_for(lkapi.room.create_room(request), LIVEKIT_TIMEOUT_S)
    return name


async def close_room(lkapi: api.LiveKitAPI, name: str) -> None:
    """Delete the room, disconnecting everyone in it; a room already gone is fine."""
    try:
        await asyncio.wait_for(
            lkapi.room.delete_room(api.DeleteRoomRequest(room=name)), LIVEKIT_TIMEOUT_S
        )
    except api.TwirpError as e:
        if e.code != api.TwirpErrorCode.NOT_FOUND:
            raise


def participant_token(
    settings: Settings,
    session: ReceptionSession,
    *,
    identity: str,
    display_name: str,
    kind: ParticipantKind,
    connection_point: str,
    now: datetime | None = None,
) -> str:
    """A LiveKit token for one participant, valid until an hour after the scheduled end."""
    now = now or datetime.now(UTC)
    ttl = max(session.ends_at + TOKEN_GRACE - now, timedelta(minutes=1))
    return mint_token(
        settings.livekit,
        identity=identity,
        grants=video_grants(kind, room_name(session)),
        ttl=ttl,
        name=display_name,
        attributes={"connection_point": connection_point, "kind": kind.value},
    )
