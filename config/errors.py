"""Errors raised while loading settings, locating the model or running the local stack."""

from __future__ import annotations


class ConfigError(Exception):
    """Base class: something in the configuration or the local machine is wrong.

    Attributes:
        retryable: whether trying the same thing again later may succeed.
    """

    retryable: bool = False


class ModelError(ConfigError):
    """The Whisper model cannot be found, assembled or verified."""


class StackError(ConfigError):
    """A part of the local stack cannot be built, started or reached."""


class PortInUseError(StackError):
    """A port the local stack needs is held by another process."""
