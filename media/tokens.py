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
