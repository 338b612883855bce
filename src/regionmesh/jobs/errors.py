"""Job errors: how a handler says "try again later" or "this will never work", and the job API's errors.

Handlers raise :class:`TemporaryJobError` / :class:`PermanentJobError` (kopf's model) when they know;
anything else goes through :func:`classify`. Temporary failures are retried with capped backoff
for as long as it takes (a region that is down for hours must converge without an operator);
permanent ones stop at FAIL with the error visible until someone redoes the job.
"""

from __future__ import annotations

import httpx
from sqlalchemy.exc import DBAPIError, OperationalError

from regionmesh.db.engine import is_retriable
from regionmesh.network import exceptions as nexc


class TemporaryJobError(Exception):
    """Retry later; ``delay`` (seconds) overrides the computed backoff when given."""

    def __init__(self, message: str, *, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class PermanentJobError(Exception):
    """Retrying cannot help (bad input that will not change); the job goes to FAIL."""


# HTTP statuses that a later attempt can get past: timeouts, rate limits, expired tokens, conflicts
# (in deleting, in use, concurrent change) and every server-side error.
_TEMPORARY_4XX = frozenset({401, 408, 409, 423, 425, 429})


def _status_is_permanent(status: int) -> bool:
    if status >= 500:
        return False
    if 400 <= status < 500:
        return status not in _TEMPORARY_4XX
    return False


def classify(exc: BaseException) -> bool:
    """True when ``exc`` is permanent (the job should FAIL), False when it is worth retrying.

    Unknown exceptions count as temporary: a handler bug or a missing dependency is fixed by a deploy
    and the job then converges by itself, while the capped backoff keeps the cost of waiting low.
    """
    if isinstance(exc, PermanentJobError):
        return True
    if isinstance(exc, TemporaryJobError):
        return False
    if isinstance(exc, httpx.HTTPStatusError):
        return _status_is_permanent(exc.response.status_code)
    if isinstance(exc, httpx.TransportError | httpx.StreamError):
        return False
    status = getattr(exc, "status_code", None)  # SDK-style errors carrying an HTTP status
    if isinstance(status, int):
        return _status_is_permanent(status)
    if isinstance(exc, nexc.NeutronException):
        if isinstance(exc, nexc.ServiceUnavailable | nexc.Conflict | nexc.Unauthenticated):
            return False
        return isinstance(exc, nexc.BadRequest | nexc.NotFound | nexc.NotAuthorized | nexc.PreconditionFailed
                          | nexc.NotImplementedByService)
    if isinstance(exc, DBAPIError):
        return not (is_retriable(exc) or isinstance(exc, OperationalError) or exc.connection_invalidated)
    if isinstance(exc, OSError | TimeoutError | ConnectionError):
        return False
    return False


def describe(exc: BaseException, limit: int = 4000) -> str:
    """The text stored as ``last_error``: type and message, bounded."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---- job API errors (statuses derived from the network bases) ----------------------------------
class JobNotFound(nexc.NotFound):
    message = "Job %(job_id)s not found"


class JobIsRunning(nexc.BadRequest):
    message = "Can't redo job %(job_id)s which is running"


class RunningJobNotDeletable(nexc.BadRequest):
    message = "Failed to delete the running job %(job_id)s"


class JobFromLog(nexc.BadRequest):
    message = "Job %(job_id)s is from job log"


class UnknownJobType(nexc.BadRequest):
    message = "There is no such job type: %(job_type)s"


class InvalidJobRequest(nexc.BadRequest):
    """Job create validation; built with the final (anchor) text."""

    message = "%(msg)s"


class InvalidJobMarker(nexc.BadRequest):
    message = "Invalid marker: %(marker)s"
