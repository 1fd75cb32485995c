"""Archive endpoints: the manifest public key, and audited playback/download of archived files.

``GET /api/v1/sessions/{id}/media/{name}``: ``name`` is a file of the session directory as the
manifest records it (``mixed.opus``, ``transcript.vtt``, ``minutes.docx``, ...); a speaker
track is ``.../media/tracks/{identity}/{file}``. The caller needs ``play_recording`` on the session;
every attempt, allowed or denied, leaves an audit row; allowed ones get a 302 to a presigned
S3 URL of the archived version, valid 10 minutes. A session the caller may not see answers the
404 of an absent one (:func:`~orchestrator.scheduling.service.get_session`).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from aiohttp import web

from orchestrator.core.errors import NotFound, OrchestratorError
from orchestrator.core.permissions import Action
from orchestrator.core.timezone import VN_TZ
from orchestrator.db.audit import actor_of, audit
from orchestrator.scheduling.service import get_session
from orchestrator.web.access import Access
from orchestrator.web.api import Route, user_of
from orchestrator.web.api import path_int as _int
from orchestrator.web.app_keys import DB, SETTINGS
from storage import make_s3_client
from storage.archive import SessionPlace, find_archived, presigned_url, signing_key
from storage.records import public_key_pem
from storage.spool import TRACKS_DIR

URL_VALID_FOR = timedelta(minutes=10)


async def public_key(request: web.Request) -> web.Response:
    """The PEM public key that verifies every manifest's Ed25519 signature."""
    pem = public_key_pem(signing_key(request.app[SETTINGS]))
    return web.Response(text=pem, content_type="application/x-pem-file")


async def session_file(request: web.Request) -> web.Response:
    """302 to a short-lived URL of one archived file of the session directory."""
    return await _archived_file(request, request.match_info["name"])


async def track_file(request: web.Request) -> web.Response:
    """302 to a short-lived URL of one archived file of a speaker's track."""
    info = request.match_info
    return await _archived_file(request, f"{TRACKS_DIR}/{info['identity']}/{info['file']}")


async def _archived_file(request: web.Request, name: str) -> web.Response:
    """302 to a short-lived URL of one archived file, after the permission check and audit."""
    user = user_of(request)
    session_id = _int(request, "id")
    target = f"session:{session_id}/{name}"
    settings = request.app[SETTINGS]
    async with request.app[DB]() as db:
        try:
            session = await get_session(db, actor_of(user), session_id, Action.PLAY_RECORDING)
        except OrchestratorError:
            audit(db, action="archive.media", target=target, outcome="denied", user=user,
                  remote=request.remote)  # fmt: skip
            await db.commit()
            raise
        place = SessionPlace(
            session_id, session.agency.province_code, session.starts_at.astimezone(VN_TZ).year
        )
        client = make_s3_client(settings.s3)
        key = signing_key(settings).public_key()
        obj = await asyncio.to_thread(
            find_archived, client, settings.s3.bucket, key, place.prefix, name
        )
        if obj is None:
            audit(db, action="archive.media", target=target, outcome="not_found", user=user,
                  remote=request.remote)  # fmt: skip
            await db.commit()
            raise NotFound(f"Kho lưu trữ chưa có tệp {name} của phiên tiếp số {session_id}.")
        url = await asyncio.to_thread(presigned_url, client, settings.s3.bucket, obj, URL_VALID_FOR)
        audit(db, action="archive.media", target=target, user=user, remote=request.remote,
              key=obj.key, version_id=obj.version_id)  # fmt: skip
        await db.commit()
    raise web.HTTPFound(url)


ROUTES = [
    Route("GET", "/archive/public-key", public_key,
          "PEM Ed25519 public key that verifies archive manifests", access=Access.PUBLIC,
          response_media_type="application/x-pem-file"),
    Route("GET", "/sessions/{id}/media/{name}", session_file,
          "302 to a 10-minute URL of an archived session file (audited; 404 if not allowed)",
          status=302, response_media_type=None),
    Route("GET", "/sessions/{id}/media/tracks/{identity}/{file}", track_file,
          "302 to a 10-minute URL of one archived speaker-track file (audited)", status=302,
          response_media_type=None),
]  # fmt: skip
