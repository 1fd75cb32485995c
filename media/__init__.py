"""The media agent: recorder and bridges in LiveKit rooms. Never imports the web layer."""

from __future__ import annotations

from media.tokens import mint_token

__all__ = ["mint_token"]
