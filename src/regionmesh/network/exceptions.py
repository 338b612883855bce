"""Neutron's exceptions, as domain errors.

The class name is the ``NeutronError.type`` clients see; the base class decides the HTTP status,
which the API edge maps once (``regionmesh.api.errors``). Messages follow Neutron's wording so that
clients and Tempest recognise them.
"""

from __future__ import annotations

from typing import Any


class NeutronException(Exception):
    """Base of every domain error; ``message`` is a %-template filled from keyword arguments."""

    message = "An unknown exception occurred."

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        self.kwargs = kwargs
        if message is None:
            try:
                message = self.message % kwargs
            except (KeyError, TypeError):
                message = self.message
        self.msg = message
        super().__init__(message)

    @property
    def type_name(self) -> str:
        return type(self).__name__

    def __str__(self) -> str:
        return self.msg


class BadRequest(NeutronException):
    message = "Bad %(resource)s request: %(msg)s."


class HTTPBadRequest(BadRequest):
    """Neutron's plain webob 400 (type ``HTTPBadRequest``): request-shape errors, attribute
    validation failures. Built with the final text: ``HTTPBadRequest("Unrecognized attribute(s) 'x'")``."""

    message = "%(detail)s"


class InvalidInput(BadRequest):
    message = "Invalid input for operation: %(error_message)s."


class NotAuthorized(NeutronException):
    message = "Not authorized."


class PolicyNotAuthorized(NotAuthorized):
    message = "(rule:%(action)s) is disallowed by policy"


class AdminRequired(NotAuthorized):
    message = "User does not have admin privileges: %(reason)s."


class NotFound(NeutronException):
    message = "%(resource)s %(id)s could not be found."


class Conflict(NeutronException):
    message = "A conflict occurred: %(msg)s"


class InUse(Conflict):
    message = "The resource is in use."


class PreconditionFailed(NeutronException):
    message = "Precondition failed: %(msg)s"


class ServiceUnavailable(NeutronException):
    message = "The service is unavailable."


class Unauthenticated(NeutronException):
    message = "Authentication required."


class NotImplementedByService(NeutronException):
    message = "Not implemented: %(msg)s"
