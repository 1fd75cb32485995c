"""LiveKit access tokens, minted with the configured key pair."""

from __future__ import annotations

from datetime import timedelta

from livekit import api

from config.settings import LiveKitSettings


def mint_token(
    lk: LiveKitSettings,
    *,
    identity: str,
    room: str,
    can_publish: bool,
    can_subscribe: bool,
    ttl: timedelta,
    name: str | None = None,
    hidden: bool = False,
    metadata: str | None = None,
) -> str:
    """A signed JWT that lets ``identity`` join ``room`` with exactly the given rights.

    ``can_publish`` and ``can_subscribe`` are required because livekit-api defaults both to
    true, and a forgotten grant must not silently let a listener speak.
    """
    token = (
        api.AccessToken(lk.api_key, lk.api_secret.get_secret_value())
        .with_identity(identity)
        .with_ttl(ttl)
        .with_grants(
            api.VideoGrants(
                room_join=True,
                room=room,
                can_publish=can_publish,
                can_subscribe=can_subscribe,
                can_publish_data=can_publish,
                hidden=hidden,
            )
        )
    )
    if name is not None:
        token = token.with_name(name)
    if metadata is not None:
        token = token.with_metadata(metadata)
    return token.to_jwt()
