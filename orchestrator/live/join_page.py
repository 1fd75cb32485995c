"""The browser join page of a session.

The page itself is static HTML plus ``static/join.js`` (livekit-client bundled from ``web/`` at
setup, never a CDN). Everything the script needs arrives in one JSON block rendered with
``|tojson``, so no value from a session title or a name can break out of the script element.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from orchestrator.web.html import render

__all__ = [
    "JoinPageConfig",
    "read_join_config",
    "render_join_page",
]


@dataclass(frozen=True)
class JoinPageConfig:
    """What one participant's join page needs.

    Attributes:
        livekit_url: The LiveKit signalling URL the browser connects to (``ws://`` / ``wss://``).
        token: The participant's LiveKit access token.
        room_name: The LiveKit room of the session.
        display_name: The participant's name as shown to the others.
        connection_point: The connection point (điểm cầu) the participant joins from.
        session_title: The session's title, shown in the page header.
        leave_url: Where the browser goes after "Rời phiên".
        recording: Whether a media agent records the session as the page is served.
        recorder_label: The recording badge as the page is served ("KHÔNG GHI" when nothing
            records the session); the script keeps it current from the room.
    """

    livekit_url: str
    token: str
    room_name: str
    display_name: str
    connection_point: str
    session_title: str
    leave_url: str
    recording: bool
    recorder_label: str


def render_join_page(config: JoinPageConfig) -> str:
    """The join page HTML for ``config``, with the script's configuration embedded as JSON."""
    script_config = {
        "livekitUrl": config.livekit_url,
        "token": config.token,
        "roomName": config.room_name,
        "displayName": config.display_name,
        "connectionPoint": config.connection_point,
        "sessionTitle": config.session_title,
        "leaveUrl": config.leave_url,
    }
    return render(
        "join.html",
        config=script_config,
        session_title=config.session_title,
        display_name=config.display_name,
        connection_point=config.connection_point,
        recording=config.recording,
        recorder_label=config.recorder_label,
    )


_CONFIG_BLOCK = re.compile(r'<script type="application/json" id="join-config">(.*?)</script>', re.S)


def read_join_config(page: str) -> dict[str, str]:
    """The script configuration embedded in a join page, as a bot (or a test) reads it.

    Raises:
        ValueError: ``page`` is not a join page.
    """
    block = _CONFIG_BLOCK.search(page)
    if block is None:
        raise ValueError("not a join page: no join-config block")
    return dict(json.loads(block.group(1)))
