"""Neutron's L3 errors: routers, router interfaces, gateways and static routes.

The class names are the API's ``NeutronError.type`` and the messages Neutron's wording, so clients and
Tempest recognise them; :mod:`regionmesh.network.routers` raises them.
"""

from __future__ import annotations

from typing import Any

from regionmesh.network import exceptions as exc


class RouterNotFound(exc.NotFound):
    message = "Router %(id)s could not be found"


class RouterInUse(exc.InUse):
    message = "Router %(router_id)s %(reason)s"

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("reason", "still has ports")
        kwargs.setdefault("router_id", kwargs.get("id"))  # publish_or_raise passes ``id``
        super().__init__(message, **kwargs)


class RouterInterfaceNotFound(exc.NotFound):
    message = "Router %(router_id)s does not have an interface with id %(port_id)s"


class RouterInterfaceNotFoundForSubnet(exc.NotFound):
    message = "Router %(router_id)s has no interface on subnet %(subnet_id)s"


class RouterInterfaceInUseByFloatingIP(exc.InUse):
    message = "Router interface for subnet %(subnet_id)s on router %(router_id)s cannot be deleted, as it " \
              "is required by one or more floating IPs."


class RouterExternalGatewayInUseByFloatingIp(exc.InUse):
    message = "Gateway cannot be updated for router %(router_id)s, since a gateway to external network " \
              "%(net_id)s is required by one or more floating IPs."


class RouterInterfaceAttachmentConflict(exc.Conflict):
    message = "Error %(reason)s while attempting the operation."


class InvalidRoutes(exc.InvalidInput):
    message = "Invalid format for routes: %(routes)s, %(reason)s"


class RouterInterfaceInUseByRoute(exc.InUse):
    message = "Router interface for subnet %(subnet_id)s on router %(router_id)s cannot be deleted, as it " \
              "is required by one or more routes."


class RoutesExhausted(exc.BadRequest):
    message = "Unable to complete operation for %(router_id)s. The number of routes exceeds the maximum " \
              "%(quota)s."


class PortInUse(exc.InUse):
    message = "Unable to complete operation on port %(port_id)s for network %(net_id)s. Port already has " \
              "an attached device %(device_id)s."


class SubnetMismatchForPort(exc.BadRequest):
    message = "Subnet on port %(port_id)s does not match the requested subnet %(subnet_id)s."
