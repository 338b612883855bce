"""Compute errors in Nova's terms: each knows its HTTP status and Nova's error body key."""

from __future__ import annotations


class ComputeError(Exception):
    """Base of every compute error; ``code`` and ``key`` render Nova's ``{"<key>": {message, code}}``."""

    code = 500
    key = "computeFault"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ComputeError):
    code = 400
    key = "badRequest"


class Forbidden(ComputeError):
    code = 403
    key = "forbidden"


class NotFound(ComputeError):
    code = 404
    key = "itemNotFound"


class Conflict(ComputeError):
    code = 409
    key = "conflictingRequest"


class QuotaExceeded(Forbidden):
    """Nova answers 403 for an over-quota server create."""


class NoValidHost(ComputeError):
    """No enabled, up host with capacity: becomes the instance's fault, not an API error."""


class NeutronFailure(ComputeError):
    """A Neutron call failed; ``status`` is Neutron's HTTP status (0 when unreachable)."""

    code = 503
    key = "computeFault"

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status
