"""Domain errors → HTTP, mapped once for every API (Neutron's ``NeutronError`` body)."""

from __future__ import annotations

import logging

from regionmesh.network import exceptions as exc

LOG = logging.getLogger(__name__)

# Most specific first: the first base class that matches decides the status.
STATUS_BY_BASE: list[tuple[type[Exception], int]] = [
    (exc.Unauthenticated, 401),
    (exc.NotAuthorized, 403),
    (exc.NotFound, 404),
    (exc.PreconditionFailed, 412),
    (exc.Conflict, 409),
    (exc.BadRequest, 400),
    (exc.ServiceUnavailable, 503),
    (exc.NotImplementedByService, 501),
]


def status_for(error: Exception) -> int:
    for base, status in STATUS_BY_BASE:
        if isinstance(error, base):
            return status
    return 500


def neutron_error_body(error: Exception) -> tuple[int, dict[str, dict[str, str]]]:
    """(status, body) for an exception; unexpected ones become Neutron's generic 500."""
    status = status_for(error)
    if status == 500 or not isinstance(error, exc.NeutronException):
        LOG.exception("Request failed: %s", error)
        return 500, {"NeutronError": {"type": "HTTPInternalServerError",
                                      "message": "Request Failed: internal server error while processing your "
                                                 "request.", "detail": ""}}
    return status, {"NeutronError": {"type": error.type_name, "message": str(error), "detail": ""}}
