"""Domain errors of the orchestrator, each mapped to one HTTP status by the error middleware.

Messages are in Vietnamese: they reach officers and citizens as the ``detail`` of an
``application/problem+json`` answer or on an error page.
"""

from __future__ import annotations


class OrchestratorError(Exception):
    """Base class. ``status`` is the HTTP status; ``title`` a short English summary for logs."""

    status = 500
    title = "Internal error"
    retryable = False

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(OrchestratorError):
    """The request cannot be read (malformed JSON, malformed ICS...)."""

    status = 400
    title = "Bad request"


class Unauthenticated(OrchestratorError):
    """No valid session cookie, bearer token or signature."""

    status = 401
    title = "Unauthenticated"


class Forbidden(OrchestratorError):
    """Authenticated, but not allowed to do this."""

    status = 403
    title = "Forbidden"


class NotFound(OrchestratorError):
    """No such resource (or one the user may not know exists)."""

    status = 404
    title = "Not found"


class Conflict(OrchestratorError):
    """The resource's state does not allow this (e.g. cancelling an archived session)."""

    status = 409
    title = "Conflict"


class Unprocessable(OrchestratorError):
    """Well-formed but invalid: end before start, unknown province, ..."""

    status = 422
    title = "Unprocessable entity"


class UpstreamUnavailable(OrchestratorError):
    """LiveKit or another service did not answer in time."""

    status = 503
    title = "Service unavailable"
    retryable = True
