"""Domain errors of the orchestrator, each mapped to one HTTP status by the error middleware.

Messages are in Vietnamese: they reach officers and citizens as the ``detail`` of an
``application/problem+json`` answer or on an error page. Each error names its HTTP status and
title (a short English summary for logs) where it is declared, as class keywords.
"""

from __future__ import annotations

from typing import Any, ClassVar


class OrchestratorError(Exception):
    """Base class. ``status`` is the HTTP status; ``title`` a short English summary for logs."""

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"
    retryable: ClassVar[bool] = False

    def __init_subclass__(
        cls,
        *,
        status: int | None = None,
        title: str | None = None,
        retryable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        # A subclass of a subclass (a particular conflict, say) keeps what it does not restate.
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status = status
        if title is not None:
            cls.title = title
        if retryable is not None:
            cls.retryable = retryable

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(OrchestratorError, status=400, title="Bad request"):
    """The request cannot be read (malformed JSON, malformed ICS...)."""


class Unauthenticated(OrchestratorError, status=401, title="Unauthenticated"):
    """No valid session cookie, bearer token or signature."""


class Forbidden(OrchestratorError, status=403, title="Forbidden"):
    """Authenticated, but not allowed to do this."""


class NotFound(OrchestratorError, status=404, title="Not found"):
    """No such resource (or one the user may not know exists)."""


class Conflict(OrchestratorError, status=409, title="Conflict"):
    """The resource's state does not allow this (e.g. cancelling an archived session)."""


class PayloadTooLarge(OrchestratorError, status=413, title="Payload too large"):
    """The request body is larger than the operation accepts (an .ics import, say)."""


class UnsupportedMediaType(OrchestratorError, status=415, title="Unsupported media type"):
    """The body is not of the content type the operation reads."""


class Unprocessable(OrchestratorError, status=422, title="Unprocessable entity"):
    """Well-formed but invalid: end before start, unknown province, ..."""


class UpstreamUnavailable(
    OrchestratorError, status=503, title="Service unavailable", retryable=True
):
    """LiveKit or another service did not answer in time."""


class TooManyRequests(OrchestratorError, status=429, title="Too many requests"):
    """Too many attempts from one account or address; the detail says how long to wait."""
