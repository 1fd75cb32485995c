"""LiveKit access tokens, minted with the configured key pair."""

from __future__ import annotations

from datetime import timedelta

from livekit import api

from config.settings import LiveKitSettings


def mint_token(
    lk: LiveKitSettings,
    *,
    identity: str,
    grants: api.VideoGrants,
    ttl: timedelta,
    name: str | None = None,
    metadata: str | None = None,
    attributes: dict[str, str] | None = None,
) -> str:
    """A signed JWT that lets ``identity`` into ``grants.room`` with exactly ``grants``.

    Build ``grants`` with every right set explicitly: livekit-api defaults ``can_publish`` and
    ``can_subscribe`` to true, and a forgotten field must not let a listener speak.
    """
    token = (
        api.AccessToken(lk.api_key, lk.api_secret.get_secret_value())
        .with_identity(identity)
        .with_ttl(ttl)
        .with_grants(grants)
    )
    if name is not None:
        token = token.with_name(name)
    if metadata is not None:
        token = token.with_metadata(metadata)
    if attributes:
        token = token.with_attributes(attributes)
    return token.to_jwt()


def recorder_grants(room: str) -> api.VideoGrants:
    """Grants of the hidden recorder in ``room``: it joins and listens, and nothing else.

    Every field is set, so that no livekit-api default (``can_publish``, ``can_subscribe``) decides
    what the recorder may do.
    """
    return api.VideoGrants(
        room_create=False,
        room_list=False,
        room_record=False,
        room_admin=False,
        room_join=True,
        room=room,
        destination_room=None,
        can_publish=False,
        can_subscribe=True,
        can_publish_data=False,
        can_publish_sources=[],
        can_update_own_metadata=False,
        ingress_admin=False,
        hidden=True,
        # Deprecated in LiveKit; the room metadata's `recording` key is what clients show.
        recorder=False,
        agent=False,
        can_manage_agent_session=False,
        can_subscribe_metrics=False,
    )
