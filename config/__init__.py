"""Settings, the Whisper model's location and the embedded local stack.

The lowest layer of tiepdan: it imports nothing of ours.
"""

from __future__ import annotations

from config.errors import ConfigError, ModelError, PortInUseError, StackError
from config.settings import Settings, load_settings
from config.whisper_model import locate_model

__all__ = [
    "ConfigError",
    "ModelError",
    "PortInUseError",
    "Settings",
    "StackError",
    "load_settings",
    "locate_model",
]
